"""The shared call budget and our own rate cap, timed with small numbers and loose bounds."""

from __future__ import annotations

import dataclasses
import email.utils
import threading
import time
from collections.abc import Callable

from target_intercom.pacing import ClockOffset, Pacer, TokenBucket
from tests.conftest import WAITS

# Whatever should not wait at all must take less than this, even on a busy machine.
NO_WAIT = 0.05


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def budget(remaining: int, reset_in: float) -> dict[str, str]:
    return {
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(time.time() + reset_in),
    }


def test_an_unknown_budget_lets_every_call_through() -> None:
    pacer = Pacer(waits=WAITS)

    def calls() -> None:
        for _ in range(200):
            pacer.acquire()
            pacer.release({})

    assert timed(calls) < NO_WAIT


def test_the_budget_from_the_headers_is_spent_then_the_reset_is_awaited() -> None:
    pacer = Pacer(waits=WAITS)
    pacer.acquire()
    pacer.release(budget(remaining=2, reset_in=0.3))
    assert timed(pacer.acquire) < NO_WAIT
    assert timed(pacer.acquire) < NO_WAIT
    waited = timed(pacer.acquire)
    assert 0.2 <= waited < 1.0
    # A new window: calls go through again.
    assert timed(pacer.acquire) < NO_WAIT


def test_calls_still_in_flight_count_against_a_new_window() -> None:
    pacer = Pacer(waits=WAITS)
    pacer.acquire()
    pacer.acquire()
    pacer.release(budget(remaining=2, reset_in=0.3))
    # Two left, one of them already taken by the call still in flight.
    assert timed(pacer.acquire) < NO_WAIT
    assert timed(pacer.acquire) >= 0.2


def test_a_response_without_rate_limit_headers_changes_nothing() -> None:
    pacer = Pacer(waits=WAITS)
    pacer.acquire()
    pacer.release(budget(remaining=1, reset_in=0.3))
    pacer.acquire()
    pacer.release({"X-RateLimit-Remaining": "5"})
    pacer.release(None)
    assert timed(pacer.acquire) >= 0.2


def test_a_lower_remaining_in_the_same_window_wins() -> None:
    pacer = Pacer(waits=WAITS)
    headers = budget(remaining=10, reset_in=0.3)
    pacer.acquire()
    pacer.release(headers)
    pacer.acquire()
    # Another app spent most of it: the same window, but only one call left.
    pacer.release({**headers, "X-RateLimit-Remaining": "1"})
    assert timed(pacer.acquire) < NO_WAIT
    assert timed(pacer.acquire) >= 0.2


def test_an_empty_budget_holds_every_worker_until_the_reset() -> None:
    pacer = Pacer(waits=WAITS)
    pacer.acquire()
    pacer.release(budget(remaining=0, reset_in=0.25))
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        waited = timed(pacer.acquire)
        with lock:
            waits.append(waited)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(2.0)
    assert len(waits) == 4
    assert all(0.15 <= w < 1.0 for w in waits), waits


def test_wait_for_reset_sleeps_until_the_reset() -> None:
    pacer = Pacer(waits=WAITS)
    headers = {"X-RateLimit-Reset": str(time.time() + 0.25)}
    started = time.monotonic()
    waited = pacer.wait_for_reset(headers)
    assert 0.15 <= waited <= 0.25
    assert 0.15 <= time.monotonic() - started < 1.0
    assert timed(pacer.acquire) < NO_WAIT


def test_wait_for_reset_holds_other_callers_too() -> None:
    pacer = Pacer(waits=WAITS)
    reset = {"X-RateLimit-Reset": str(time.time() + 0.3)}
    sleeper = threading.Thread(target=pacer.wait_for_reset, args=(reset,))
    sleeper.start()
    time.sleep(0.05)
    assert 0.15 <= timed(pacer.acquire) < 1.0
    sleeper.join(2.0)


def test_a_reset_in_the_past_waits_only_a_moment() -> None:
    pacer = Pacer(waits=dataclasses.replace(WAITS, reset_min=0.02))
    started = time.monotonic()
    waited = pacer.wait_for_reset({"X-RateLimit-Reset": str(time.time() - 5)})
    assert waited == 0.02
    assert 0.02 <= time.monotonic() - started < 0.5
    assert timed(pacer.acquire) < NO_WAIT


def test_a_429_without_a_reset_time_waits_the_wait_for_an_unknown_reset() -> None:
    pacer = Pacer(waits=dataclasses.replace(WAITS, reset_unknown=0.1))
    started = time.monotonic()
    waited = pacer.wait_for_reset({})
    assert waited == 0.1
    assert 0.1 <= time.monotonic() - started < 0.5
    # It says nothing of the budget: the next call goes at once.
    assert timed(pacer.acquire) < NO_WAIT


def test_a_reset_far_off_is_capped() -> None:
    pacer = Pacer(waits=dataclasses.replace(WAITS, reset_max=0.1))
    elapsed = timed(lambda: pacer.wait_for_reset({"X-RateLimit-Reset": str(time.time() + 3600)}))
    assert 0.1 <= elapsed < 0.5


def test_a_token_bucket_spaces_calls_evenly() -> None:
    bucket = TokenBucket(per_minute=1200)  # one call every 50 ms
    assert timed(bucket.take) < NO_WAIT

    def four() -> None:
        for _ in range(4):
            bucket.take()

    assert 0.18 <= timed(four) < 0.6


def test_a_token_bucket_spaces_concurrent_callers_too() -> None:
    bucket = TokenBucket(per_minute=1200)
    finished: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        bucket.take()
        with lock:
            finished.append(time.monotonic())

    started = time.monotonic()
    threads = [threading.Thread(target=take) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(2.0)
    # The first goes at once, the other four 50 ms apart: the k-th no earlier than k times 50 ms
    # (a busy machine may run a thread later, never earlier).
    assert 0.18 <= max(finished) - started < 0.6
    since = [moment - started for moment in sorted(finished)]
    assert all(at >= k * 0.05 - 0.01 for k, at in enumerate(since)), since


def test_requests_per_minute_paces_the_pacer() -> None:
    pacer = Pacer(requests_per_minute=1200, waits=WAITS)

    def calls() -> None:
        for _ in range(5):
            pacer.acquire()
            pacer.release({})

    assert 0.18 <= timed(calls) < 0.6


def test_without_requests_per_minute_there_is_no_cap() -> None:
    pacer = Pacer(requests_per_minute=None, waits=WAITS)

    def calls() -> None:
        for _ in range(50):
            pacer.acquire()
            pacer.release({})

    assert timed(calls) < NO_WAIT


def _date(seconds: float) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


def test_clock_offset_reads_a_clock_an_hour_ahead_from_date_headers() -> None:
    offset = ClockOffset()
    now = 1_800_000_000.0
    for fraction in (0.1, 0.45, 0.8, 0.97):
        offset.observe(_date(now + 3600 + fraction), now + fraction - 0.01, now + fraction)
    assert 3599.0 < offset.seconds() <= 3600.0


def test_clock_offset_keeps_our_clock_when_the_dates_agree_with_it() -> None:
    offset = ClockOffset()
    now = 1_800_000_000.0
    for fraction in (0.2, 0.6):
        offset.observe(_date(now + fraction), now + fraction - 0.01, now + fraction)
    assert offset.seconds() == 0.0


def test_clock_offset_ignores_answers_without_a_date_and_starts_again_when_clocks_jump() -> None:
    offset = ClockOffset()
    offset.observe(None, 1.0, 1.1)
    offset.observe("not a date", 1.0, 1.1)
    assert offset.seconds() == 0.0
    now = 1_800_000_000.0
    offset.observe(_date(now - 100), now - 0.01, now)
    assert -101.0 <= offset.seconds() <= -100.0
    offset.observe(_date(now + 50), now - 0.01, now)
    assert 49.0 <= offset.seconds() <= 50.0
