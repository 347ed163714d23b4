"""Pacing against the fake's rate limit, and the requests_per_minute cap, checked by what
the fake saw (call counts and the times it answered), never by timing the test."""

from __future__ import annotations

import pytest

from tests.conftest import STR, config_for, record, run_target, schema

USERS = schema("users", {"id": STR, "email": STR}, ["id"])


def users(n: int) -> list[dict]:
    return [USERS] + [record("users", {"id": f"u{i}", "email": f"u{i}@x.io"}) for i in range(n)]


def test_runs_at_the_rate_limit_with_almost_no_429s(fake, tmp_path):
    # 40 calls a quarter-second window: the load needs six windows, and sixteen workers
    # would spend each window's budget in a few milliseconds without pacing.
    fake.configure(rate_limit=40, rate_window=0.25, latency=0.005)
    run = run_target(config_for(fake, max_concurrency=16), users(240), tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(fake.contacts()) == 240
    calls = fake.calls()
    rejected = sum(1 for c in calls if c.status == 429)
    assert rejected <= 0.03 * len(calls), rejected


def test_requests_per_minute_caps_our_own_rate(fake, tmp_path):
    run = run_target(
        config_for(fake, max_concurrency=8, requests_per_minute=1200), users(30), tmp_path
    )
    assert run.returncode == 0, run.stderr
    # When each call reached the fake (its answer's time less the time it took): answers
    # held up on a busy machine go out together, the calls themselves came paced.
    times = sorted(c.finished_at - c.elapsed for c in fake.calls())
    # the access check, the new sync store's look at the workspace, one create per user
    assert len(times) == 32
    # 1200 a minute is 20 a second: no one-second span may hold more than 20 calls (+1 burst).
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 21, busiest


# Each skew waits out five to ten half-second rate-limit windows: the fast tier keeps one.
@pytest.mark.parametrize(
    "skew",
    [
        pytest.param(-1.0, marks=pytest.mark.slow),
        pytest.param(-30.0, marks=pytest.mark.slow),
        3600.0,
        pytest.param(-3600.0, marks=pytest.mark.slow),
    ],
)
def test_a_clock_far_from_intercoms_changes_neither_pace_nor_429s(fake, tmp_path, skew):
    """`skew`: seconds Intercom's clock (the fake's) is ahead of ours. The rate-limit
    windows, X-RateLimit-Reset and Date all follow Intercom's clock."""
    fake.configure(rate_limit=20, rate_window=0.5, latency=0.005, clock_skew=skew)
    run = run_target(config_for(fake, max_concurrency=8), users(100), tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(fake.contacts()) == 100
    calls = fake.calls()
    rejected = sum(1 for c in calls if c.status == 429)
    assert rejected <= 0.1 * len(calls), rejected
    times = sorted(c.finished_at for c in calls)
    # Five windows' worth of calls: a run parked for the skew would take far longer.
    assert times[-1] - times[0] < 10, times[-1] - times[0]
