"""The parking lot keeps what it is given, in memory and past its bound on disk alike."""

from __future__ import annotations

import tracemalloc
from dataclasses import dataclass

import pytest

from target_intercom.delivery.job import Job
from target_intercom.delivery.parking import ParkingLot
from target_intercom.mapping import RecordSchema, map_event


@dataclass(frozen=True)
class Plan:
    name: str

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        return (f"event:{self.name}",)


def job(n: int) -> Job:
    plan = Plan(f"p{n}")
    return Job("events", f"#{n}", {"n": n}, plan, plan.ordering_keys)


def test_jobs_past_the_bound_come_back_from_disk_whole() -> None:
    lot = ParkingLot(in_memory=2)
    for n in range(6):
        lot.put(n, job(n), (f"contact:{n % 3}",))
    assert len(lot) == 6
    taken = lot.take(["contact:1"])
    assert [seq for seq, _ in taken] == [1, 4]
    assert [(j.record, j.keys, j.plan) for _, j in taken] == [
        ({"n": 1}, ("event:p1",), Plan("p1")),
        ({"n": 4}, ("event:p4",), Plan("p4")),
    ]
    assert len(lot) == 4
    rest = lot.take_some(10)
    assert sorted(seq for seq, _ in rest) == [0, 2, 3, 5]
    assert [j.plan for _, j in sorted(rest)] == [Plan("p0"), Plan("p2"), Plan("p3"), Plan("p5")]
    assert len(lot) == 0
    assert lot.take(["contact:0"]) == []
    lot.close()


def test_a_job_waiting_for_two_keys_is_taken_once() -> None:
    lot = ParkingLot()
    lot.put(7, job(7), ("contact:a", "contact:b"))
    assert [seq for seq, _ in lot.take(["contact:a", "contact:b"])] == [7]
    assert lot.take(["contact:b"]) == []
    assert len(lot) == 0


def test_a_job_waiting_for_several_contacts_waits_for_the_last_of_them() -> None:
    lot = ParkingLot(in_memory=1)
    lot.put(1, job(1), ("contact:a", "contact:b"))
    lot.put(2, job(2), ("contact:a", "contact:b"))  # past the bound: on disk
    assert lot.take(["contact:a"]) == []
    assert [seq for seq, _ in lot.take(["contact:b"])] == [1, 2]
    assert len(lot) == 0
    lot.close()


def test_a_mapped_plan_spills_to_disk_and_comes_back_equal() -> None:
    """Any plan a mapping makes can wait on disk: the bound does not depend on its kind."""
    schema = RecordSchema({"properties": {"user_id": {"type": "string"}}})
    record = {"user_id": "u1", "event_name": "signed-up", "created_at": 1700000000}
    plan = map_event(record, schema)
    lot = ParkingLot(in_memory=0)
    lot.put(3, Job("events", "#3", record, plan, plan.ordering_keys), ("contact:u1",))
    ((seq, back),) = lot.take(["contact:u1"])
    assert (seq, back.plan, back.record) == (3, plan, record)
    lot.close()


def test_the_oldest_parked_record_is_known_in_memory_and_on_disk() -> None:
    lot = ParkingLot(in_memory=2)
    assert lot.oldest() is None
    for seq in (5, 3, 9, 1, 7):  # 5 and 3 in memory; 9, 1 and 7 on disk
        lot.put(seq, job(seq), (f"contact:{seq}",))
    assert lot.oldest() == 1
    lot.take(["contact:1"])
    assert lot.oldest() == 3
    lot.take(["contact:3", "contact:5"])
    assert lot.oldest() == 7
    lot.take(["contact:7", "contact:9"])
    assert lot.oldest() is None
    lot.close()


@dataclass(frozen=True)
class Narrowing:
    """A rest for the lot alone: it waits for `waits_for`, and a later record holding one
    of them settles that one."""

    waits_for: tuple[str, ...]

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        return self.waits_for

    @property
    def watches(self) -> tuple[str, ...]:
        return ("company:c1",)

    def after(self, later: tuple[str, ...]) -> Narrowing:
        return Narrowing(tuple(k for k in self.waits_for if k not in later))


@pytest.mark.parametrize("in_memory", [10, 0])
def test_a_watched_job_is_found_revised_and_taken_once_it_waits_for_nothing(in_memory) -> None:
    lot = ParkingLot(in_memory=in_memory)
    rest = Narrowing(("contact:a", "contact:b", "contact:c"))
    lot.put(4, Job("companies", "c1", {}, rest, rest.ordering_keys), rest.waits_for, rest.watches)
    lot.put(5, job(5), ("contact:a",))
    assert lot.watched
    assert lot.watching(["contact:a"]) == []
    [(seq, found)] = lot.watching(["company:c1", "contact:b"])
    assert (seq, found.plan) == (4, rest)
    narrower = rest.after(("contact:a",))
    assert lot.revise(4, Job("companies", "c1", {}, narrower, ()), narrower.waits_for) is None
    assert lot.take(["contact:b"]) == []  # it still waits for c
    [(_, back)] = lot.watching(["company:c1"])
    assert back.plan == narrower
    last = Narrowing(())
    taken = lot.revise(4, Job("companies", "c1", {}, last, ()), last.waits_for)
    assert taken is not None and taken.plan == last
    assert not lot.watched
    assert [seq for seq, _ in lot.take(["contact:a", "contact:c"])] == [5]
    assert len(lot) == 0
    lot.close()


def test_jobs_on_disk_leave_nothing_in_memory() -> None:
    """Memory for N jobs on disk and for 5N is the same: not even their sequence numbers
    stay (the file answers which is the oldest)."""
    lot = ParkingLot(in_memory=100)

    def park(start: int, n: int) -> None:
        for seq in range(start, start + n):
            rest = Narrowing((f"contact:{seq % 50}",))
            lot.put(seq, Job("companies", "c", {}, rest, ()), rest.waits_for, rest.watches)

    tracemalloc.start()
    try:
        park(0, 5_100)
        assert lot.oldest() == 0
        with_n = tracemalloc.get_traced_memory()[0]
        park(5_100, 20_000)
        assert lot.oldest() == 0
        grown = tracemalloc.get_traced_memory()[0] - with_n
    finally:
        tracemalloc.stop()
    assert grown < 10_000, f"{grown} bytes for 20,000 more jobs on disk"
    assert len(lot) == 25_100
    lot.close()
