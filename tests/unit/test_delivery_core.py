"""The ledger's invariants, checked one call at a time: no threads, no clock."""

from __future__ import annotations

import random
import tracemalloc
from itertools import pairwise

import pytest

from target_intercom import keys
from target_intercom.delivery.core import Ledger, State


def added(ledger: Ledger, *keys: str) -> int:
    """Adds a record that must be allowed to start at once; returns its number."""
    seq, runnable = ledger.add(keys)
    assert runnable, f"record {seq} with keys {keys} should have been runnable"
    return seq


# STATE as a watermark


def test_a_state_with_nothing_before_it_goes_out_at_once() -> None:
    assert Ledger().state({"at": 0}) == [{"at": 0}]


def test_a_state_waits_for_every_record_before_it() -> None:
    ledger = Ledger()
    first, second, third = (added(ledger) for _ in range(3))
    assert ledger.state({"at": 3}) == []
    assert ledger.finish(third, delivered=True) == ([], [])
    assert ledger.finish(second, delivered=True) == ([], [])
    assert ledger.finish(first, delivered=True) == ([], [{"at": 3}])


def test_a_state_does_not_wait_for_records_after_it() -> None:
    ledger = Ledger()
    first = added(ledger)
    assert ledger.state({"at": 1}) == []
    later = added(ledger)
    assert ledger.finish(first, delivered=True) == ([], [{"at": 1}])
    assert ledger.state({"at": 2}) == []
    assert ledger.finish(later, delivered=True) == ([], [{"at": 2}])


# Ordering keys


def test_a_later_record_sharing_a_key_waits_for_the_earlier() -> None:
    ledger = Ledger()
    create = added(ledger, "contact:u1")
    update, runnable = ledger.add(["contact:u1"])
    assert not runnable
    assert ledger.finish(create, delivered=True) == ([update], [])


def test_records_sharing_no_key_are_independent() -> None:
    ledger = Ledger()
    added(ledger, "contact:u1")
    added(ledger, "contact:u2")
    added(ledger)


def test_a_record_with_two_keys_waits_for_both() -> None:
    ledger = Ledger()
    contact = added(ledger, "contact:u1")
    company = added(ledger, "company:c1")
    membership, runnable = ledger.add(["contact:u1", "company:c1"])
    assert not runnable
    assert ledger.finish(company, delivered=True) == ([], [])
    assert ledger.finish(contact, delivered=True) == ([membership], [])


def test_a_record_reached_through_two_keys_is_released_once() -> None:
    ledger = Ledger()
    first = added(ledger, "a", "b")
    second, runnable = ledger.add(["a", "b", "a"])
    assert not runnable
    assert ledger.finish(first, delivered=True) == ([second], [])
    assert ledger.finish(second, delivered=True) == ([], [])


def test_a_chain_runs_in_input_order() -> None:
    ledger = Ledger()
    seqs = [ledger.add(["k"])[0] for _ in range(4)]
    order = [seqs[0]]
    for seq in seqs[:-1]:
        runnable, _ = ledger.finish(seq, delivered=True)
        order.extend(runnable)
    assert order == seqs


def test_a_key_is_free_again_once_its_records_finished() -> None:
    ledger = Ledger()
    ledger.finish(added(ledger, "k"), delivered=True)
    added(ledger, "k")


def test_finishing_a_record_that_may_not_start_yet_is_refused() -> None:
    ledger = Ledger()
    added(ledger, "k")
    waiting, _ = ledger.add(["k"])
    with pytest.raises(ValueError, match="not running"):
        ledger.finish(waiting, delivered=True)


def test_finishing_a_record_twice_is_refused() -> None:
    ledger = Ledger()
    seq = added(ledger)
    ledger.finish(seq, delivered=True)
    with pytest.raises(ValueError, match="not running"):
        ledger.finish(seq, delivered=True)


# Coalescing


def test_pending_states_go_out_as_only_the_newest() -> None:
    ledger = Ledger()
    seqs = []
    for n in range(3):
        seqs.append(added(ledger))
        assert ledger.state({"at": n}) == []
    assert ledger.finish(seqs[2], delivered=True) == ([], [])
    assert ledger.finish(seqs[1], delivered=True) == ([], [])
    assert ledger.finish(seqs[0], delivered=True) == ([], [{"at": 2}])


def test_a_state_identical_to_the_last_written_is_not_written_again() -> None:
    ledger = Ledger()
    assert ledger.state({"at": 1}) == [{"at": 1}]
    assert ledger.state({"at": 1}) == []
    seq = added(ledger)
    assert ledger.state({"at": 1}) == []
    assert ledger.finish(seq, delivered=True) == ([], [])
    assert ledger.state({"at": 2}) == [{"at": 2}]
    assert ledger.state({"at": 1}) == [{"at": 1}]


def test_a_state_storm_behind_one_slow_record_holds_one_state() -> None:
    ledger = Ledger()
    slow = added(ledger)
    for n in range(100_000):
        ledger.finish(added(ledger), delivered=True)
        assert ledger.state({"at": n}) == []
    assert ledger.pending_states == 1
    assert ledger.finish(slow, delivered=True) == ([], [{"at": 99_999}])
    assert ledger.pending_states == 0


def test_states_with_a_record_in_flight_between_them_are_both_kept() -> None:
    ledger = Ledger()
    first = added(ledger)
    assert ledger.state({"at": 1}) == []
    second = added(ledger)
    assert ledger.state({"at": 2}) == []
    assert ledger.pending_states == 2
    assert ledger.finish(first, delivered=True) == ([], [{"at": 1}])
    assert ledger.finish(second, delivered=True) == ([], [{"at": 2}])


def test_a_failed_record_never_lets_a_newer_state_replace_an_older_true_one() -> None:
    ledger = Ledger()
    first = added(ledger)
    assert ledger.state({"at": 1}) == []
    failed = added(ledger)
    ledger.finish(failed, delivered=False)
    assert ledger.state({"at": 2}) == []
    assert ledger.finish(first, delivered=True) == ([], [{"at": 1}])


def test_back_to_back_states_keep_only_the_newer() -> None:
    ledger = Ledger()
    seq = added(ledger)
    for n in range(5):
        ledger.state({"at": n})
    assert ledger.finish(seq, delivered=True) == ([], [{"at": 4}])


# Barriers


def test_no_state_passes_a_failed_record_even_when_later_records_finish() -> None:
    ledger = Ledger()
    ok = added(ledger)
    ledger.state({"at": 1})
    failed = added(ledger)
    ledger.state({"at": 2})
    later = added(ledger)
    ledger.state({"at": 3})
    assert ledger.finish(ok, delivered=True) == ([], [{"at": 1}])
    assert ledger.finish(later, delivered=True) == ([], [])
    assert ledger.finish(failed, delivered=False) == ([], [])
    assert ledger.state({"at": 4}) == []


def test_a_failure_abandons_later_records_only() -> None:
    ledger = Ledger()
    earlier = added(ledger)
    failed = added(ledger)
    later = added(ledger)
    assert not ledger.abandons(later)
    ledger.finish(failed, delivered=False)
    assert not ledger.abandons(earlier)
    assert ledger.abandons(later)


def test_an_earlier_failure_moves_the_barrier_back() -> None:
    ledger = Ledger()
    first = added(ledger)
    ledger.state({"at": 1})
    second = added(ledger)
    ledger.finish(second, delivered=False)
    assert ledger.abandons(second + 1)
    ledger.finish(first, delivered=False)
    assert ledger.abandons(first + 1)
    assert ledger.state({"at": 2}) == []


def test_after_a_stop_in_flight_records_still_free_their_state_but_none_passes_abandoned_ones() -> (
    None
):
    ledger = Ledger()
    in_flight = added(ledger)
    ledger.state({"at": 1})
    not_started = added(ledger)
    ledger.state({"at": 2})
    ledger.stop()
    assert ledger.abandons(not_started)
    assert ledger.finish(not_started, delivered=False) == ([], [])
    assert ledger.finish(in_flight, delivered=True) == ([], [{"at": 1}])
    assert ledger.state({"at": 3}) == []


def test_a_waiting_record_released_after_a_stop_is_abandoned() -> None:
    ledger = Ledger()
    in_flight = added(ledger, "k")
    waiting, _ = ledger.add(["k"])
    ledger.stop()
    assert ledger.finish(in_flight, delivered=True) == ([waiting], [])
    assert ledger.abandons(waiting)


# Property-style: random operation sequences against a model built from first principles


class Model:
    """What the ledger must say, worked out from the whole history on every step."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, ...]] = []
        self.finished: dict[int, bool] = {}  # seq -> delivered
        self.pending: list[tuple[int, State]] = []
        self.last_written: State | None = None

    def unfinished(self) -> list[int]:
        return [s for s in range(len(self.keys)) if s not in self.finished]

    def may_start(self, seq: int) -> bool:
        return not any(
            set(self.keys[seq]) & set(self.keys[earlier])
            for earlier in self.unfinished()
            if earlier < seq
        )

    def releasable(self) -> list[State]:
        open_ = self.unfinished()
        failed = [s for s, delivered in self.finished.items() if not delivered]
        limit = min([*open_[:1], *failed, len(self.keys)])
        due = [value for position, value in self.pending if position <= limit]
        self.pending = [(p, v) for p, v in self.pending if p > limit]
        if not due or due[-1] == self.last_written:
            return []
        self.last_written = due[-1]
        return [due[-1]]


@pytest.mark.parametrize("seed", range(40))
def test_random_histories_keep_every_invariant(seed: int) -> None:
    rng = random.Random(seed)
    ledger = Ledger()
    model = Model()
    runnable: set[int] = set()
    ever_runnable: list[int] = []
    written: list[State] = []
    # Half the histories never fail, so that STATEs keep going out all along.
    failure_rate = 0.0 if seed % 2 else 0.02
    for _ in range(300):
        out: list[State] = []
        roll = rng.random()
        if roll < 0.45:
            keys = tuple(rng.sample("abcdef", rng.randint(0, 3)))
            seq, may_start = ledger.add(keys)
            assert seq == len(model.keys)
            model.keys.append(keys)
            assert may_start == model.may_start(seq)
            if may_start:
                runnable.add(seq)
                ever_runnable.append(seq)
        elif roll < 0.6:
            # Repeats of one STATE happen: "v" has two values.
            value = {"upto": len(model.keys), "v": rng.randint(0, 1)}
            model.pending.append((len(model.keys), value))
            out = ledger.state(value)
            assert out == model.releasable()
        elif runnable:
            seq = rng.choice(sorted(runnable))
            runnable.remove(seq)
            delivered = rng.random() >= failure_rate
            model.finished[seq] = delivered
            released, out = ledger.finish(seq, delivered=delivered)
            assert len(released) == len(set(released))
            runnable.update(released)
            ever_runnable.extend(released)
            assert out == model.releasable()
        written.extend(out)
        open_ = model.unfinished()
        # The oldest unfinished record can always run: the pool never deadlocks.
        if open_:
            assert open_[0] in runnable
        # Runnable is exactly "no earlier unfinished record shares a key".
        assert runnable == {s for s in open_ if model.may_start(s)}
        # Never a STATE ahead of a record that is unfinished or was not delivered.
        for value in out:
            assert all(model.finished.get(s) is True for s in range(value["upto"]))
    assert len(ever_runnable) == len(set(ever_runnable))
    assert all(a != b for a, b in pairwise(written))
    assert written, "a history should have written some STATE"


def test_records_holding_a_key_shared_run_together_and_around_its_outright_holders() -> None:
    ledger = Ledger()
    company = keys.company("c1")
    first, runnable_first = ledger.add([keys.shared(company)])
    second, runnable_second = ledger.add([keys.shared(company)])
    update, runnable_update = ledger.add([company])
    after, runnable_after = ledger.add([keys.shared(company)])
    assert (runnable_first, runnable_second, runnable_update, runnable_after) == (
        True,
        True,
        False,
        False,
    )
    assert ledger.finish(first, delivered=True)[0] == []
    assert ledger.finish(second, delivered=True)[0] == [update]
    assert ledger.finish(update, delivered=True)[0] == [after]


class Lot:
    """The parking lot, as the ledger sees it: the sequence numbers parked."""

    def __init__(self) -> None:
        self.seqs: set[int] = set()

    def oldest(self) -> int | None:
        return min(self.seqs, default=None)


def parked(ledger: Ledger, lot: Lot, seq: int) -> list[int]:
    """Parks a record as the pool does: out of the ledger, into the lot."""
    runnable = ledger.park(seq)
    lot.seqs.add(seq)
    return runnable


def resumed(ledger: Ledger, lot: Lot, seq: int, *keys: str) -> bool:
    lot.seqs.discard(seq)
    return ledger.resume(seq, keys)


def test_a_parked_record_lets_the_records_behind_it_go_but_holds_the_watermark() -> None:
    lot = Lot()
    ledger = Ledger(lot)
    event, _ = ledger.add(["contact:u1"])
    ledger.state({"at": 1})
    later, runnable = ledger.add(["contact:u1"])
    assert not runnable
    assert parked(ledger, lot, event) == [later]
    assert ledger.finish(later, delivered=True)[1] == []
    assert resumed(ledger, lot, event, "contact:u1")
    assert ledger.finish(event, delivered=True)[1] == [{"at": 1}]


def test_a_resumed_record_queues_behind_records_in_flight_and_later_ones_behind_it() -> None:
    lot = Lot()
    ledger = Ledger(lot)
    rest = added(ledger, "company:c1")
    parked(ledger, lot, rest)
    overtaking = added(ledger, "company:c1", "contact:u1")
    # It entered the ledger after the record that overtook it: it waits for it.
    assert not resumed(ledger, lot, rest, "company:c1")
    after, runnable = ledger.add(["company:c1"])
    assert not runnable
    assert ledger.finish(overtaking, delivered=True)[0] == [rest]
    assert ledger.finish(rest, delivered=True)[0] == [after]


def test_resuming_a_record_that_is_not_parked_is_refused() -> None:
    ledger = Ledger()
    seq = added(ledger)
    with pytest.raises(ValueError, match="not parked"):
        ledger.resume(seq, ())
    with pytest.raises(ValueError, match="not parked"):
        ledger.resume(seq + 1, ())


def test_the_ledger_keeps_nothing_of_parked_records_nor_of_those_finished_behind_a_slow_one() -> (
    None
):
    """Memory follows the records in flight: neither records parked (the lot keeps those)
    nor records finished while an older one is still on the wire cost the ledger memory."""
    ledger = Ledger()
    slow = added(ledger, "contact:slow")

    def load(n: int) -> None:
        for i in range(n):
            seq = added(ledger, f"contact:{i}")
            if i % 2:
                ledger.park(seq)  # no lot: only the ledger is measured
            else:
                ledger.finish(seq, delivered=True)

    load(1_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        load(50_000)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 20_000, f"{grown} bytes for 50,000 records"
    assert ledger.finish(slow, delivered=True) == ([], [])


# Property-style, with parking: records leave the ledger and come back later


@pytest.mark.parametrize("seed", range(40))
def test_random_histories_with_parked_records_keep_every_invariant(seed: int) -> None:
    rng = random.Random(seed)
    lot = Lot()
    ledger = Ledger(lot)
    keys: dict[int, tuple[str, ...]] = {}
    entered: dict[int, int] = {}  # when each unfinished record (re)entered the ledger
    finished: dict[int, bool] = {}
    runnable: set[int] = set()
    pending: list[tuple[int, State]] = []
    last_written: list[State] = []

    def in_ledger() -> list[int]:
        return sorted(s for s in keys if s not in finished and s not in lot.seqs)

    def may_start(seq: int) -> bool:
        return not any(
            set(keys[seq]) & set(keys[other])
            for other in in_ledger()
            if entered[other] < entered[seq]
        )

    def releasable() -> list[State]:
        unfinished = [s for s in keys if s not in finished]
        failed = [s for s, delivered in finished.items() if not delivered]
        limit = min([*unfinished, *failed, len(keys)])
        due = [value for position, value in pending if position <= limit]
        pending[:] = [(p, v) for p, v in pending if p > limit]
        if not due or due[-1] in last_written[-1:]:
            return []
        last_written.append(due[-1])
        return [due[-1]]

    for clock in range(400):
        out: list[State] = []
        roll = rng.random()
        if roll < 0.35:
            record_keys = tuple(rng.sample("abcdef", rng.randint(0, 2)))
            seq, may = ledger.add(record_keys)
            keys[seq], entered[seq] = record_keys, clock
            assert may == may_start(seq)
            if may:
                runnable.add(seq)
        elif roll < 0.45:
            value = {"upto": len(keys), "v": rng.randint(0, 1)}
            pending.append((len(keys), value))
            out = ledger.state(value)
            assert out == releasable()
        elif roll < 0.55 and lot.seqs:
            seq = rng.choice(sorted(lot.seqs))
            keys[seq], entered[seq] = tuple(rng.sample("abcdef", rng.randint(0, 2))), clock
            may = resumed(ledger, lot, seq, *keys[seq])
            assert may == may_start(seq)
            if may:
                runnable.add(seq)
        elif runnable:
            seq = rng.choice(sorted(runnable))
            runnable.remove(seq)
            if rng.random() < 0.3:
                released = parked(ledger, lot, seq)
            else:
                finished[seq] = rng.random() >= (0.0 if seed % 2 else 0.02)
                released, out = ledger.finish(seq, delivered=finished[seq])
                assert out == releasable()
            runnable.update(released)
        # The record that entered first among those in the ledger can always run.
        open_ = in_ledger()
        if open_:
            assert min(open_, key=entered.__getitem__) in runnable
        assert runnable == {s for s in open_ if may_start(s)}
        for value in out:
            assert all(finished.get(s) is True for s in range(value["upto"]))
