"""Warnings that matter once per run, not once per record."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("target-intercom")


class Notices:
    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def warn_once(self, key: str, message: str) -> None:
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
        logger.warning(message)
