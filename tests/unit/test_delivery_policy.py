"""Delivery's policy, one event at a time: which released STATE is written, held or never
written, and why a run fails. No threads: each rule is seen without timing."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from target_intercom.delivery.core import State
from target_intercom.delivery.policy import RUN, Failure, Policy


def test_a_state_released_with_no_rejection_open_is_written_at_once() -> None:
    policy = Policy(max_rejected_in_a_row=5)
    policy.delivered()
    assert policy.released({"at": 1}) == {"at": 1}


def test_a_state_released_during_rejections_is_held_until_a_record_is_delivered() -> None:
    policy = Policy(max_rejected_in_a_row=5)
    policy.rejected("unknown_attribute", "no such attribute")
    assert policy.released({"at": 1}) is None
    assert policy.released({"at": 2}) is None
    assert policy.delivered() == {"at": 2}
    assert policy.delivered() is None


def test_the_held_state_goes_out_at_the_end_when_the_run_is_not_one_cause() -> None:
    policy = Policy(max_rejected_in_a_row=5)
    policy.delivered()
    policy.rejected("a", "first")
    assert policy.released({"at": 1}) is None
    assert policy.ended() == {"at": 1}
    assert policy.failure is None


def test_rejections_in_a_row_up_to_the_limit_fail_the_run_and_drop_every_later_state() -> None:
    policy = Policy(max_rejected_in_a_row=3)
    policy.rejected("a", "one")
    assert policy.released({"at": 1}) is None
    policy.rejected("b", "two")
    assert policy.failure is None
    policy.rejected("a", "three")
    assert policy.failure is not None
    assert policy.failure.seq == RUN
    assert "the last 3 records in a row were all rejected (the last: three (a))" in (
        policy.failure.message
    )
    assert policy.delivered() is None
    assert policy.released({"at": 2}) is None
    assert policy.ended() is None


def test_a_run_that_rejected_everything_for_one_cause_fails_at_the_end() -> None:
    policy = Policy(max_rejected_in_a_row=100)
    policy.rejected("unknown_attribute", "x")
    policy.rejected("unknown_attribute", "y")
    assert policy.released({"at": 2}) is None
    assert policy.ended() is None
    assert policy.failure is not None
    assert "the last 2 records in a row were all rejected" in policy.failure.message


@pytest.mark.parametrize(
    "history",
    [
        ["rejected:a"],  # one record is bad rows, not a cause
        ["rejected:a", "rejected:b"],  # two causes
        ["delivered", "rejected:a", "rejected:a"],  # something was delivered
    ],
)
def test_a_run_that_is_not_one_cause_rejecting_everything_ends_green(history: list[str]) -> None:
    policy = Policy(max_rejected_in_a_row=100)
    for event in history:
        if event == "delivered":
            policy.delivered()
        else:
            policy.rejected(event.split(":")[1], "bad")
    assert policy.released({"at": 9}) is None
    assert policy.ended() == {"at": 9}
    assert policy.failure is None


def test_without_the_rule_rejections_never_fail_the_run_nor_hold_a_state_past_the_end() -> None:
    policy = Policy(max_rejected_in_a_row=0)
    for _ in range(50):
        policy.rejected("a", "bad")
    assert policy.released({"at": 1}) is None
    assert policy.ended() == {"at": 1}
    assert policy.failure is None


def test_a_dry_run_writes_no_state() -> None:
    policy = Policy(emit_state=False, max_rejected_in_a_row=5)
    assert policy.released({"at": 1}) is None
    policy.rejected("a", "bad")
    assert policy.released({"at": 2}) is None
    assert policy.delivered() is None
    assert policy.ended() is None


def test_the_earliest_record_failure_wins_and_a_run_failure_is_kept_once_set() -> None:
    policy = Policy()
    policy.failed(7, "seven")
    policy.failed(3, "three")
    policy.failed(5, "five")
    policy.failed(RUN, "stdout is gone")
    assert policy.failure == Failure(3, "three")
    run_first = Policy()
    run_first.failed(RUN, "stdout is gone")
    run_first.failed(1, "one")
    assert run_first.failure == Failure(RUN, "stdout is gone")


def test_records_may_park_only_while_the_input_goes_on() -> None:
    policy = Policy()
    assert policy.may_park
    policy.input_ended()
    assert not policy.may_park


# Random histories against a model worked out from the whole history at once


@dataclass
class Expected:
    written: list[tuple[int, State]]  # (step, STATE written at that step)
    failure: Failure | None


def model(history: list[tuple[str, object]], *, emit: bool, limit: int) -> Expected:
    """What the policy must answer, from first principles over the whole history."""
    ends = [(i, kind) for i, (kind, _) in enumerate(history) if kind in ("delivered", "rejected")]

    def streak_before(step: int) -> int:
        """Rejections in a row just before `step` (the records ended before it)."""
        count = 0
        for _, kind in reversed([e for e in ends if e[0] < step]):
            if kind != "rejected":
                break
            count += 1
        return count

    systemic = next(
        (
            i
            for i, (kind, _) in enumerate(history)
            if kind == "rejected" and limit and streak_before(i) + 1 >= limit
        ),
        None,
    )
    codes = {code for kind, code in history if kind == "rejected"}
    rejected = sum(1 for _, kind in ends if kind == "rejected")
    at_end = history[-1][0] == "ended"
    one_cause = rejected >= 2 and rejected == len(ends) and len(codes) == 1
    if systemic is None and at_end and limit and one_cause:
        systemic = len(history) - 1
    live = len(history) if systemic is None else systemic
    written: list[tuple[int, State]] = []
    held: State | None = None
    for i, (kind, value) in enumerate(history[:live]):
        if kind == "released" and emit:
            assert isinstance(value, dict)
            if streak_before(i) == 0:
                written.append((i, value))
            else:
                held = value
        elif kind in ("delivered", "ended") and held is not None:
            written.append((i, held))
            held = None
    # A failure of the run (the systemic one among them) is kept if it came first; else
    # the earliest record's failure, whenever it came.
    failures = [(i, value) for i, (kind, value) in enumerate(history) if kind == "failed"]
    if systemic is not None:
        failures = sorted([*failures, (systemic, "systemic")], key=lambda f: f[0])
    failure = None
    if failures and failures[0][1] in (RUN, "systemic"):
        failure = Failure(RUN, "systemic" if failures[0][1] == "systemic" else "failed")
    elif failures:
        failure = Failure(
            min(int(str(seq)) for _, seq in failures if seq not in (RUN, "systemic")), "failed"
        )
    return Expected(written, failure)


@pytest.mark.parametrize("seed", range(60))
def test_random_histories_match_the_model(seed: int) -> None:
    rng = random.Random(seed)
    emit = seed % 7 != 0
    limit = rng.choice([0, 2, 3, 5, 100])
    policy = Policy(emit_state=emit, max_rejected_in_a_row=limit)
    history: list[tuple[str, object]] = []
    written: list[tuple[int, State]] = []
    codes = ["a"] if seed % 3 == 0 else ["a", "b"]
    for step in range(rng.randint(1, 40)):
        roll = rng.random()
        out: State | None = None
        if roll < 0.35:
            history.append(("rejected", rng.choice(codes)))
            policy.rejected(str(history[-1][1]), "bad")
        elif roll < 0.6 and seed % 4:
            history.append(("delivered", None))
            out = policy.delivered()
        elif roll < 0.95:
            history.append(("released", {"at": step}))
            out = policy.released({"at": step})
        else:
            seq = rng.choice([RUN, rng.randint(0, 30)])
            history.append(("failed", seq))
            policy.failed(seq, "failed")
        if out is not None:
            written.append((step, out))
    history.append(("ended", None))
    out = policy.ended()
    if out is not None:
        written.append((len(history) - 1, out))
    expected = model(history, emit=emit, limit=limit)
    assert written == expected.written
    got = policy.failure
    if expected.failure is None:
        assert got is None
    else:
        assert got is not None
        assert got.seq == expected.failure.seq
        if expected.failure.message == "systemic":
            assert "in a row were all rejected" in got.message
        else:
            assert got.message == "failed"
