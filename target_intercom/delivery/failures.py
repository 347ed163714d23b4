"""What a record's failure costs: one dead letter, or the whole run."""

from __future__ import annotations

import logging
from typing import Any

from target_intercom.deadletter import DeadLetterFile
from target_intercom.errors import RecordError
from target_intercom.metrics import Metrics

logger = logging.getLogger("target-intercom")


class RecordErrors:
    """The record-error policy: a dead-letter file means skip, its absence means fail.

    A record Intercom refuses for good (`RecordError`) will be refused again on a
    retry, so the run either sets it aside where the user can replay it after a fix,
    or stops with a message naming the record.
    """

    def __init__(self, dead_letter: DeadLetterFile | None, metrics: Metrics) -> None:
        self._dead_letter = dead_letter
        self._metrics = metrics

    def settle(
        self, stream: str, record_key: str, record: dict[str, Any], error: RecordError
    ) -> str | None:
        """None once the record is dead-lettered, else the message the run fails with."""
        message = f"stream '{stream}' record {record_key}: {error.message}"
        if self._dead_letter is None:
            return f"{message} ({error.code})"
        # Written before the record counts as finished: STATE may then pass it.
        try:
            self._dead_letter.write(stream, record, error.code, error.message)
        except (OSError, ValueError) as exc:
            # A full disk or a closed file: the record cannot be set aside, so it is not
            # finished, and no STATE may pass it.
            return (
                f"{message} ({error.code}), and it could not be written to the dead-letter "
                f"file {str(self._dead_letter.path)!r}: {exc}"
            )
        self._metrics.count_outcome(stream, "skipped")
        logger.warning("Skipped %s (%s); %s", message, error.code, self._dead_letter.fate)
        return None


def internal_error(stream: str, record_key: str, error: Exception) -> str:
    """The message for a bug of ours: it names the record, so the user can report it."""
    return (
        f"internal error on stream '{stream}' record {record_key}: {type(error).__name__}: {error}"
    )
