"""Holding answers until a test lets them through.

Latency says how long a call takes, but a test that must know which calls are on the wire
at one moment (a stop while calls are in flight) cannot learn that from the clock on a busy
machine. A `Gate` holds the answers to chosen routes until the test lets them go, and says
how many it holds, so such a test waits for a state of the fake instead of for time.
"""

from __future__ import annotations

import threading
from collections.abc import Collection


class Gate:
    """Answers to `routes` (route names such as "POST /contacts") wait here once the
    request is handled, before they are sent: `release(n)` lets the next n go, `open()`
    every one from then on. An answer is held at most `timeout` seconds, so a test that
    never opens its gate fails on what it asserts instead of hanging the fake."""

    def __init__(self, routes: Collection[str] = (), *, timeout: float = 60.0) -> None:
        self._routes = frozenset(routes)
        self._timeout = timeout
        self._changed = threading.Condition()
        self._open = False
        self._passes = 0  # answers that may go before the gate closes again
        self._held = 0

    @property
    def held(self) -> int:
        """How many answers wait at the gate now."""
        with self._changed:
            return self._held

    def hold(self, route: str) -> None:
        """Returns once the answer to a call of `route` may be sent."""
        if route not in self._routes:
            return
        with self._changed:
            self._held += 1
            self._changed.notify_all()
            try:
                let_through = self._changed.wait_for(
                    lambda: self._open or self._passes > 0, self._timeout
                )
                if let_through and not self._open:
                    self._passes -= 1
            finally:
                self._held -= 1
                self._changed.notify_all()

    def release(self, count: int) -> None:
        """Lets the next `count` answers go, those held first."""
        with self._changed:
            self._passes += count
            self._changed.notify_all()

    def open(self) -> None:
        """Lets every answer go, held or to come."""
        with self._changed:
            self._open = True
            self._changed.notify_all()

    def wait_until_held(self, count: int, timeout: float = 30.0) -> None:
        """Returns once exactly `count` answers are held and every release is used up: the
        calls in flight are then those `count`, and no other can end. TimeoutError after
        `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: self._held == count and self._passes == 0, timeout
            ):
                raise TimeoutError(f"the gate holds {self._held} answers, not {count}")
