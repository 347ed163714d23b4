"""Warnings that matter once per run, not once per record."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("target-intercom")


class Notices:
    """Which once-per-run warnings were already given, shared by every thread."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def warn_once(self, key: str, message: str) -> None:
        """Logs the warning the first time its key is seen, and never again this run."""
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
        logger.warning(message)
