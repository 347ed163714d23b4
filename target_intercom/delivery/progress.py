"""The periodic progress line, so a long load shows it is alive and how fast it goes."""

from __future__ import annotations

import logging
import threading
import time

from target_intercom.delivery.pool import Delivery

logger = logging.getLogger("target-intercom")


class Progress:
    """Logs a progress line every few seconds while a load runs."""

    def __init__(self, delivery: Delivery, every: float = 10.0) -> None:
        self._delivery = delivery
        self._every = every
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            done = self._delivery.delivered
            elapsed = time.monotonic() - self._started
            logger.info(
                # Finished: delivered, dead-lettered or unchanged; the summary splits them.
                "Progress: %d records finished in %.0fs (%.1f records/s)",
                done,
                elapsed,
                done / elapsed if elapsed else 0.0,
            )

    def stop(self) -> None:
        """Ends the progress line, so that no line follows the summary."""
        self._stop.set()
