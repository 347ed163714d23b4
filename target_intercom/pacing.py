"""Keeping every worker of a run under Intercom's rate limit together.

Intercom counts calls in fixed windows (10 s for private apps) and tells, on every
response, how many calls are left (`X-RateLimit-Remaining`) and when the window ends
(`X-RateLimit-Reset`, Unix seconds by Intercom's clock). One `Pacer` is shared by all
workers: it spends that budget call by call and, once it is gone, holds every worker
until the window resets, so a load runs at the limit without collecting 429s.
`requests_per_minute` adds a cap of our own for workspaces shared with other apps.

The reset time is on Intercom's clock, not ours, and a machine's clock can be off by
seconds or hours. `ClockOffset` learns the difference from Intercom's `Date` headers,
so a skewed local clock neither sends calls into a window that has not ended nor parks
the run for the skew.
"""

from __future__ import annotations

import email.utils
import math
import threading
import time
from collections.abc import Mapping

from target_intercom.errors import Stopped
from target_intercom.waits import Waits


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


class ClockOffset:
    """How far Intercom's clock is ahead of ours, learned from its `Date` headers.

    `Date` has whole seconds, so one answer only bounds the offset: Intercom's time was
    at least `Date` when we had not yet received the answer, and less than `Date + 1`
    when we had already sent the request. Intersecting the bounds of many answers, sent
    at different fractions of a second, narrows them. While our own clock is within the
    bounds it is taken as right: that is the usual case, and the bounds may stay a second
    wide when every call goes out at the same fraction of a second (at the start of each
    window). Outside them, the lower bound is used: it reads Intercom's clock a little
    behind rather than ahead, so a window is not taken as over before it is (which would
    cost 429s). A clock less than a second ahead of Intercom's can still look right.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._low = -math.inf
        self._high = math.inf

    def observe(self, date: str | None, sent_at: float, received_at: float) -> None:
        """Narrows the offset's bounds with one answer's Date header."""
        if date is None:
            return
        try:
            server = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return
        low, high = server - received_at, server + 1 - sent_at
        with self._lock:
            if low > self._high or high < self._low:
                # The bounds disagree: one of the clocks was set meanwhile. Start again.
                self._low, self._high = low, high
            else:
                self._low, self._high = max(self._low, low), min(self._high, high)

    def seconds(self) -> float:
        """The offset to add to our clock to read Intercom's."""
        with self._lock:
            return 0.0 if self._low <= 0.0 <= self._high else self._low


class TokenBucket:
    """Spaces calls evenly at a fixed rate (our own `requests_per_minute` cap)."""

    def __init__(self, per_minute: int, stopping: threading.Event | None = None) -> None:
        self._stopping = stopping or threading.Event()
        self._rate = per_minute / 60.0
        # No bursts: a cap shared with other apps is best kept evenly, call by call.
        self._capacity = 1.0
        self._tokens = self._capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        """Blocks until a call may go out under the budget (or the run stops)."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            # Reserve the token even when it is not there yet: the debt spaces the
            # callers out in the order they arrived.
            self._tokens -= 1.0
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            pause(self._stopping, wait)


class Pacer:
    """The shared call budget of one run."""

    def __init__(
        self,
        requests_per_minute: int | None = None,
        stopping: threading.Event | None = None,
        *,
        waits: Waits,
    ) -> None:
        self._waits = waits
        # Set when the run stops: every wait here ends at once, and no call starts.
        self._stopping = stopping or threading.Event()
        self._lock = threading.Lock()
        self._remaining: int | None = None  # None: unknown, let calls through
        self._reset_at = 0.0  # X-RateLimit-Reset of the current window: Intercom's clock
        self._clock = ClockOffset()
        self._in_flight = 0
        self._bucket = (
            TokenBucket(requests_per_minute, self._stopping) if requests_per_minute else None
        )

    def acquire(self) -> None:
        """Blocks until one more call fits in the budget, then counts it as spent."""
        while True:
            with self._lock:
                now = time.time() + self._clock.seconds()
                if self._remaining is not None and now >= self._reset_at:
                    self._remaining = None
                if self._remaining is None or self._remaining > 0:
                    if self._remaining is not None:
                        self._remaining -= 1
                    self._in_flight += 1
                    break
                wait = self._reset_at - now
            pause(self._stopping, min(max(wait, 0.005), self._waits.reset_max))
        if self._bucket is not None:
            self._bucket.take()

    def release(
        self, headers: Mapping[str, str] | None = None, sent_at: float | None = None
    ) -> None:
        """Ends a call, learning the budget (and Intercom's clock, from the answer's `Date`
        and `sent_at`, our time.time() when the request went out) from its headers."""
        if headers and sent_at is not None:
            self._clock.observe(headers.get("Date"), sent_at, time.time())
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
            now = time.time() + self._clock.seconds()
            if reset is not None and reset > now:
                self._reset_at = max(self._reset_at, reset)
                self._remaining = 0
            wait = (reset - now) if reset is not None else self._waits.reset_unknown
        wait = min(max(wait, self._waits.reset_min), self._waits.reset_max)
        pause(self._stopping, wait)
        return wait


def pause(stopping: threading.Event, seconds: float) -> None:
    """Sleeps, unless the run stops meanwhile: then no call may start, so this raises.
    Every wait of a run goes through here, so that a stop is never held up by one."""
    if stopping.wait(seconds):
        raise Stopped("the run is stopping: no call starts any more")
