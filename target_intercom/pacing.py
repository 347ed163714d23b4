"""Keeping every worker of a run under Intercom's rate limit together.

Intercom counts calls in fixed windows (10 s for private apps) and tells, on every
response, how many calls are left (`X-RateLimit-Remaining`) and when the window ends
(`X-RateLimit-Reset`, Unix seconds). One `Pacer` is shared by all workers: it spends
that budget call by call and, once it is gone, holds every worker until the window
resets, so a load runs at the limit without collecting 429s. `requests_per_minute`
adds a cap of our own for workspaces shared with other apps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

# Never wait longer than this on a reset time: a clock far off from Intercom's must not
# park the run for an hour.
MAX_WAIT_SECONDS = 60.0


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


class TokenBucket:
    """Spaces calls evenly at a fixed rate (our own `requests_per_minute` cap)."""

    def __init__(self, per_minute: int) -> None:
        self._rate = per_minute / 60.0
        # No bursts: a cap shared with other apps is best kept evenly, call by call.
        self._capacity = 1.0
        self._tokens = self._capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            # Reserve the token even when it is not there yet: the debt spaces the
            # callers out in the order they arrived.
            self._tokens -= 1.0
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


class Pacer:
    """The shared call budget of one run."""

    def __init__(self, requests_per_minute: int | None = None) -> None:
        self._lock = threading.Lock()
        self._remaining: int | None = None  # None: unknown, let calls through
        self._reset_at = 0.0
        self._in_flight = 0
        self._bucket = TokenBucket(requests_per_minute) if requests_per_minute else None

    def acquire(self) -> None:
        """Blocks until one more call fits in the budget, then counts it as spent."""
        while True:
            with self._lock:
                now = time.time()
                if self._remaining is not None and now >= self._reset_at:
                    self._remaining = None
                if self._remaining is None or self._remaining > 0:
                    if self._remaining is not None:
                        self._remaining -= 1
                    self._in_flight += 1
                    break
                wait = self._reset_at - now
            time.sleep(min(max(wait, 0.005), MAX_WAIT_SECONDS))
        if self._bucket is not None:
            self._bucket.take()

    def release(self, headers: Mapping[str, str] | None = None) -> None:
        """Ends a call, learning the budget from its response headers when it has them."""
        remaining = _header_number(headers, "X-RateLimit-Remaining") if headers else None
        reset = _header_number(headers, "X-RateLimit-Reset") if headers else None
        with self._lock:
            self._in_flight -= 1
            if remaining is None or reset is None:
                return
            if reset > self._reset_at:
                # A new window: the calls still in flight will count against it too.
                self._reset_at = reset
                self._remaining = int(remaining) - self._in_flight
            elif reset == self._reset_at and self._remaining is not None:
                # Another client of the same workspace may be spending it as well.
                self._remaining = min(self._remaining, int(remaining))

    def wait_for_reset(self, headers: Mapping[str, str]) -> float:
        """After a 429: sleeps until the window resets and returns the seconds waited."""
        reset = _header_number(headers, "X-RateLimit-Reset")
        with self._lock:
            now = time.time()
            if reset is not None and reset > now:
                self._reset_at = max(self._reset_at, reset)
                self._remaining = 0
            wait = (reset - now) if reset is not None else 1.0
        wait = min(max(wait, 0.05), MAX_WAIT_SECONDS)
        time.sleep(wait)
        return wait
