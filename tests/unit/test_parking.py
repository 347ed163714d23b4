"""The parking lot keeps what it is given, in memory and past its bound on disk alike."""

from __future__ import annotations

from dataclasses import dataclass

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
