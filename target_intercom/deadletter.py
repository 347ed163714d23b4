"""The dead-letter file: where `on_record_error: skip` puts the records Intercom refused.

One JSON object per line (stream, record, error code and message, time), appended
across runs, so a user can read why and replay the lines as Singer RECORDs after a fix.
The file is created at the first line written to it, so a run that skipped nothing
leaves none; whether it can be written is checked at the start all the same. A dry run
writes no file at all (`DryRunDeadLetters`): it tallies what it would have set aside, for
its closing lines.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from target_intercom.errors import FatalError
from target_intercom.jsonvalues import json_default
from target_intercom.redact import mask, written_forms


class DeadLetterFile:
    """An append-only JSON-lines file of refused records, written before a STATE may pass them."""

    # What happened to a skipped record, for its log line.
    fate = "written to the dead-letter file"

    def __init__(self, path: str, secret: str) -> None:
        self.path = Path(path).expanduser()
        # Each form of the token as it would appear inside this file's JSON strings:
        # Intercom's error messages may echo a request, and a dead letter carries them.
        self._secrets = [json.dumps(form)[1:-1] for form in written_forms(secret)] if secret else []
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._closed = False
        # Lines written by this run.
        self.written = 0
        try:
            self._check_writable()
        except OSError as exc:
            raise FatalError(
                f"dead_letter_path {str(self.path)!r} cannot be opened for appending: "
                f"{exc.strerror or exc}"
            ) from None

    def _check_writable(self) -> None:
        """Fails now, rather than at the first skipped record, for a path that cannot be
        written: its folder is created (as a first line would need), and the file is
        opened for appending when it exists, else created and removed again."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            with self.path.open("a", encoding="utf-8"):
                return
        with self.path.open("x", encoding="utf-8"):
            pass
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def write(self, stream: str, record: dict[str, Any], code: str, message: str) -> None:
        """Appends a refused record with why, flushed at once: a STATE past it may follow."""
        line = json.dumps(
            {
                "stream": stream,
                "record": record,
                "error_code": code,
                "error_message": message,
                "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
            default=json_default,
            # Escaped, so that any text a tap sends is writable, lone surrogates included.
            ensure_ascii=True,
        )
        line = mask(line, self._secrets)
        with self._lock:
            if self._closed:
                raise ValueError("the dead-letter file is closed")
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            self._file.write(line + "\n")
            # A dead letter counts as delivered for STATE, so it must be on disk first.
            self._file.flush()
            self.written += 1

    def close(self) -> None:
        """Closes the file; a run that refused nothing leaves none behind."""
        # Every line was flushed as it was written, so only a line whose write already
        # failed (and was reported as the run's failure) can fail here.
        with self._lock, contextlib.suppress(OSError):
            self._closed = True
            if self._file is not None:
                self._file.close()


class DryRunDeadLetters(DeadLetterFile):
    """A dry run's dead-letter file: the records a real run would append, tallied by stream
    and error code, with no file or folder created, opened or written."""

    fate = "a real run would write it to the dead-letter file (dry run: nothing is written)"

    def __init__(self, path: str, secret: str) -> None:
        self.would_write: Counter[tuple[str, str]] = Counter()
        super().__init__(path, secret)

    def _check_writable(self) -> None:
        """Whether a real run could append to the file, asked without making anything:
        the file if it exists, else the nearest folder above it that does."""
        place = self.path.absolute()
        while not place.exists():
            place = place.parent
        if not os.access(place, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(place))

    def write(self, stream: str, record: dict[str, Any], code: str, message: str) -> None:
        """Counts the record a real run would append."""
        with self._lock:
            self.would_write[(stream, code)] += 1
            self.written += 1
