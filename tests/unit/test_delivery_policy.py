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
    policy.delivered(0)
    assert policy.released({"at": 1}) == {"at": 1}


def test_a_state_released_during_rejections_is_held_until_a_record_is_delivered() -> None:
    policy = Policy(max_rejected_in_a_row=5)
    policy.rejected(0, "unknown_attribute", "no such attribute")
    assert policy.released({"at": 1}) is None
    assert policy.released({"at": 2}) is None
    assert policy.delivered(1) == {"at": 2}
    assert policy.delivered(2) is None


def test_the_held_state_goes_out_at_the_end_when_the_run_is_not_one_cause() -> None:
    policy = Policy(max_rejected_in_a_row=5)
    policy.delivered(0)
    policy.rejected(1, "a", "first")
    assert policy.released({"at": 1}) is None
    assert policy.ended() == {"at": 1}
    assert policy.failure is None


def test_rejections_in_a_row_up_to_the_limit_fail_the_run_and_drop_every_later_state() -> None:
    policy = Policy(max_rejected_in_a_row=3)
    policy.rejected(0, "a", "one")
    assert policy.released({"at": 1}) is None
    policy.rejected(1, "b", "two")
    assert policy.failure is None
    policy.rejected(2, "a", "three")
    assert policy.failure is not None
    assert policy.failure.seq == RUN
    assert "the last 3 records in a row were all rejected (the last: three (a))" in (
        policy.failure.message
    )
    assert policy.delivered(3) is None
    assert policy.released({"at": 2}) is None
    assert policy.ended() is None


def test_rejections_are_counted_in_a_row_in_input_order_not_in_the_order_they_end() -> None:
    policy = Policy(max_rejected_in_a_row=3)
    # Input: bad, good, bad, good, bad; the bad ones end first, one after another.
    policy.rejected(0, "a", "x")
    policy.rejected(2, "a", "x")
    policy.rejected(4, "a", "x")
    assert policy.failure is None
    policy.delivered(1)
    policy.delivered(3)
    assert policy.failure is None
    # Neighbours in the input are a run, whatever order they end in.
    policy.rejected(7, "a", "x")
    policy.rejected(6, "a", "x")
    policy.rejected(5, "a", "x")
    assert policy.failure is not None


def test_a_parked_record_counts_neither_way_even_when_it_is_rejected_at_the_end() -> None:
    policy = Policy(max_rejected_in_a_row=2)
    policy.delivered(0)
    policy.passed(1)  # parked: waits for its contact
    policy.delivered(2)
    policy.passed(3)
    policy.delivered(4)
    policy.input_ended()
    policy.rejected(1, "contact_not_found", "x")  # their last try, one after another
    policy.rejected(3, "contact_not_found", "x")
    assert policy.ended() is None
    assert policy.failure is None
    # Parked records between two rejections do not end their run either.
    run = Policy(max_rejected_in_a_row=2)
    run.rejected(0, "a", "x")
    run.passed(1)
    run.rejected(2, "a", "x")
    assert run.failure is not None


def test_a_run_that_rejected_everything_for_one_cause_fails_at_the_end() -> None:
    policy = Policy(max_rejected_in_a_row=100)
    policy.rejected(0, "unknown_attribute", "x")
    policy.rejected(1, "unknown_attribute", "y")
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
    for seq, event in enumerate(history):
        if event == "delivered":
            policy.delivered(seq)
        else:
            policy.rejected(seq, event.split(":")[1], "bad")
    assert policy.released({"at": 9}) is None
    assert policy.ended() == {"at": 9}
    assert policy.failure is None


def test_without_the_rule_rejections_never_fail_the_run_nor_hold_a_state_past_the_end() -> None:
    policy = Policy(max_rejected_in_a_row=0)
    for seq in range(50):
        policy.rejected(seq, "a", "bad")
    assert policy.released({"at": 1}) is None
    assert policy.ended() == {"at": 1}
    assert policy.failure is None


def test_anonymous_calls_count_neither_way_in_a_run_of_rejections() -> None:
    policy = Policy(max_rejected_in_a_row=2)
    policy.delivered(0)
    policy.rejected(1, "a", "x")
    for seq in range(2, 10):
        policy.anonymous(seq)
    assert policy.failure is None
    assert policy.released({"at": 1}) is None  # still held: the rejection is not ended
    assert policy.delivered(10) == {"at": 1}


def test_a_state_past_anonymous_calls_waits_for_a_delivered_record() -> None:
    policy = Policy(max_rejected_in_a_row=5)
    policy.anonymous(0)
    assert policy.released({"at": 1}) is None
    assert policy.delivered(1) == {"at": 1}
    assert policy.ended() is None
    assert policy.failure is None


@pytest.mark.parametrize("limit", [0, 50])
def test_a_run_of_nothing_but_anonymous_calls_fails_and_writes_no_state(limit: int) -> None:
    policy = Policy(max_rejected_in_a_row=limit)
    policy.anonymous(0)
    policy.anonymous(1)
    assert policy.released({"at": 1}) is None
    assert policy.ended() is None
    assert policy.failure is not None
    assert "all 2 records of the run were anonymous calls" in policy.failure.message


def test_one_anonymous_call_alone_is_not_one_cause() -> None:
    policy = Policy(max_rejected_in_a_row=50)
    policy.anonymous(0)
    assert policy.released({"at": 1}) is None
    assert policy.ended() == {"at": 1}
    assert policy.failure is None


def test_a_dry_run_writes_no_state() -> None:
    policy = Policy(emit_state=False, max_rejected_in_a_row=5)
    assert policy.released({"at": 1}) is None
    policy.rejected(0, "a", "bad")
    assert policy.released({"at": 2}) is None
    assert policy.delivered(1) is None
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


Event = tuple[str, int, str]  # (what, the record's place in the input, its error code)


def model(history: list[Event | tuple[str, State]], *, emit: bool, limit: int) -> Expected:
    """What the policy must answer, from first principles over the whole history: at each
    step, the records are read in input order as far as each has ended once, a rejected
    one adds to the run, a delivered one ends it, a parked (passed) one does neither."""

    def streak_after(step: int) -> tuple[int, int]:
        """The run of rejections after `step`, and the longest one reached by then."""
        first: dict[int, str] = {}
        for what, *rest in history[: step + 1]:
            if what in ("delivered", "rejected", "passed"):
                first.setdefault(int(rest[0]), what)  # type: ignore[call-overload]
        streak = longest = 0
        seq = 0
        while seq in first:
            if first[seq] == "rejected":
                streak += 1
                longest = max(longest, streak)
            elif first[seq] == "delivered":
                streak = 0
            seq += 1
        return streak, longest

    systemic = next((i for i in range(len(history)) if limit and streak_after(i)[1] >= limit), None)
    ends = [e for e in history if e[0] in ("delivered", "rejected")]
    rejected = [e for e in ends if e[0] == "rejected"]
    codes = {e[2] for e in rejected}  # type: ignore[misc]
    one_cause = len(rejected) >= 2 and len(rejected) == len(ends) and len(codes) == 1
    if systemic is None and history[-1][0] == "ended" and limit and one_cause:
        systemic = len(history) - 1
    live = len(history) if systemic is None else systemic
    written: list[tuple[int, State]] = []
    held: State | None = None
    for i, (what, *rest) in enumerate(history[:live]):
        if what == "released" and emit:
            value = rest[0]
            assert isinstance(value, dict)
            if streak_after(i)[0] == 0:
                written.append((i, value))
            else:
                held = value
        elif held is not None and (what == "ended" or streak_after(i)[0] == 0):
            written.append((i, held))
            held = None
    # A failure of the run (the systemic one among them) is kept if it came first; else
    # the earliest record's failure, whenever it came.
    failures: list[tuple[int, object]] = [
        (i, e[1]) for i, e in enumerate(history) if e[0] == "failed"
    ]
    if systemic is not None:
        failures = sorted([*failures, (systemic, "systemic")], key=lambda f: f[0])
    failure = None
    if failures and failures[0][1] in (RUN, "systemic"):
        failure = Failure(RUN, "systemic" if failures[0][1] == "systemic" else "failed")
    elif failures:
        seqs = [int(str(seq)) for _, seq in failures if seq not in (RUN, "systemic")]
        failure = Failure(min(seqs), "failed")
    return Expected(written, failure)


@pytest.mark.parametrize("seed", range(80))
def test_random_histories_match_the_model(seed: int) -> None:
    rng = random.Random(seed)
    emit = seed % 7 != 0
    limit = rng.choice([0, 2, 3, 5, 100])
    policy = Policy(emit_state=emit, max_rejected_in_a_row=limit)
    codes = ["a"] if seed % 3 == 0 else ["a", "b"]
    count = rng.randint(1, 30)
    # Each record ends once, in any order (workers), near its place in the input; a
    # parked one ends again later. STATEs and failures come in between.
    order = sorted(range(count), key=lambda seq: seq + rng.uniform(0, 6))
    plan: list[Event | tuple[str, State]] = []
    parked: list[int] = []
    for seq in order:
        roll = rng.random()
        if roll < 0.35:
            plan.append(("rejected", seq, rng.choice(codes)))
        elif roll < 0.5:
            plan.append(("passed", seq, ""))
            parked.append(seq)
        elif seq % 4 or seed % 4:
            plan.append(("delivered", seq, ""))
        else:
            plan.append(("rejected", seq, rng.choice(codes)))
        if rng.random() < 0.4:
            plan.append(("released", {"at": len(plan)}))
        if rng.random() < 0.05:
            plan.append(("failed", rng.choice([RUN, rng.randint(0, 30)]), ""))
    # The parked ones' last tries, once the input has ended.
    plan.extend((rng.choice(["delivered", "rejected"]), seq, rng.choice(codes)) for seq in parked)
    history: list[Event | tuple[str, State]] = []
    written: list[tuple[int, State]] = []
    for event in plan:
        history.append(event)
        what, arg = event[0], event[1]
        out: State | None = None
        if what == "released":
            assert isinstance(arg, dict)
            out = policy.released(arg)
        elif what == "delivered":
            out = policy.delivered(int(str(arg)))
        elif what == "rejected":
            out = policy.rejected(int(str(arg)), str(event[2]), "bad")
        elif what == "passed":
            out = policy.passed(int(str(arg)))
        else:
            policy.failed(int(str(arg)), "failed")
        if out is not None:
            written.append((len(history) - 1, out))
    history.append(("ended", 0, ""))
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
