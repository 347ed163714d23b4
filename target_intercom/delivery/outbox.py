"""The STATE outbox: the newest STATE to write, written to stdout by one thread at a time.

A slow reader of stdout must hold up at most the one thread writing, never the workers
or the reading thread, and a stuck one must not make memory grow: the outbox holds one
STATE, and a newer one replaces one not yet written, since it tells the tap everything
the older would have.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from target_intercom.delivery.core import State


class Outbox:
    """One STATE slot and the lock of whoever writes it to stdout."""

    def __init__(
        self, write_state: Callable[[State], None], on_broken: Callable[[str], None]
    ) -> None:
        self._write_state = write_state
        # Told when stdout is gone: the run cannot acknowledge anything any more.
        self._on_broken = on_broken
        self._slot: State | None = None
        self._slot_lock = threading.Lock()
        self._output = threading.Lock()

    def put(self, state: State) -> None:
        """Replaces the STATE not yet written: the newer one says all the older would have."""
        with self._slot_lock:
            self._slot = state

    def drain(self) -> None:
        """Writes the outbox, in order, by one thread at a time.

        A thread that finds another one writing leaves the outbox to it instead of
        queueing behind a slow stdout. The writer looks at the outbox again after
        letting go of the output lock, so a STATE put there meanwhile is never left
        behind. An empty outbox is seen without a lock (every record's end drains it):
        a STATE put just after that look is drained by the thread that put it.
        """
        if self._slot is None:
            return
        while self._output.acquire(blocking=False):
            try:
                while (value := self._take()) is not None:
                    self._write_state(value)
            except (OSError, ValueError) as exc:
                # Whoever reads stdout is gone (or it was closed): no STATE can reach
                # Meltano any more, so the run stops instead of loading what it could
                # never acknowledge.
                self._on_broken(f"cannot write STATE to stdout: {exc}")
                return
            finally:
                self._output.release()
            with self._slot_lock:
                if self._slot is None:
                    return

    def _take(self) -> State | None:
        with self._slot_lock:
            value, self._slot = self._slot, None
            return value
