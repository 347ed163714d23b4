"""What a record's failure costs: one dead letter, or the whole run."""

from __future__ import annotations

import logging
import threading
from typing import Any

from target_intercom.deadletter import DeadLetterFile
from target_intercom.errors import ContactNotYet, RecordError
from target_intercom.metrics import Metrics

logger = logging.getLogger("target-intercom")

# The dead-letter code of a record whose own part is written, its members never found.
MEMBERS_NOT_FOUND = "members_not_found"
# Warning lines about such records per run; the SUMMARY line counts every one.
_UNDONE_LINES = 20


class RecordErrors:
    """The record-error policy: a dead-letter file means skip, its absence means fail.

    A record Intercom refuses for good (`RecordError`) will be refused again on a
    retry, so the run either sets it aside where the user can replay it after a fix,
    or stops with a message naming the record.
    """

    def __init__(self, dead_letter: DeadLetterFile | None, metrics: Metrics) -> None:
        self._dead_letter = dead_letter
        self._metrics = metrics
        self._undone_lock = threading.Lock()
        self._undone_lines = 0

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

    def left_undone(
        self, stream: str, record_key: str, record: dict[str, Any], error: ContactNotYet
    ) -> str | None:
        """A record that wrote its own part (a company) and waited for contacts (its
        members) that never came. As Customer.io's destination does ("we'll create or
        update the company but can't attach the user"), that is not a record error: the
        record counts as what its own part did, and STATE may pass it; the members left
        out are counted (`members_not_found`), named in a warning line (the first
        `_UNDONE_LINES` records), and, under skip, the record goes to the dead-letter
        file, whose replay attaches them once they are in Intercom. None, or the message
        the run fails with when the dead-letter file cannot take it."""
        assert error.rest is not None
        message = f"stream '{stream}' record {record_key}: {error.message}"
        fate = "run the record again once they are in Intercom"
        if self._dead_letter is not None:
            try:
                self._dead_letter.write(stream, record, MEMBERS_NOT_FOUND, error.message)
            except (OSError, ValueError) as exc:
                return (
                    f"{message}, and it could not be written to the dead-letter file "
                    f"{str(self._dead_letter.path)!r}: {exc}"
                )
            fate = f"{self._dead_letter.fate}, to replay once they are in Intercom"
        self._metrics.count_outcome(stream, error.rest.outcome)
        self._metrics.count_members_not_found(len(error.rest.waits_for))
        with self._undone_lock:
            self._undone_lines += 1
            lines = self._undone_lines
        if lines <= _UNDONE_LINES:
            logger.warning("%s: written, but those members are not attached; %s", message, fate)
        if lines == _UNDONE_LINES:
            logger.warning(
                "More records whose members never came are not named here: the SUMMARY "
                "line counts their members (members_not_found)"
            )
        return None


def internal_error(stream: str, record_key: str, error: Exception) -> str:
    """The message for a bug of ours: it names the record, so the user can report it."""
    return (
        f"internal error on stream '{stream}' record {record_key}: {type(error).__name__}: {error}"
    )
