"""The parking lot keeps what it is given, in memory and past its bound on disk alike."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from target_intercom.delivery.parking import Job, ParkingLot


@dataclass(frozen=True)
class Plan:
    name: str


class Writer:
    def write(self, plan: Plan) -> str:
        return f"wrote {plan.name}"


def job(writer: Writer, n: int) -> Job:
    return Job(
        "events", f"#{n}", {"n": n}, (f"event:{n}",), functools.partial(writer.write, Plan(f"p{n}"))
    )


def test_jobs_past_the_bound_come_back_from_disk_whole() -> None:
    writer = Writer()
    lot = ParkingLot(in_memory=2)
    for n in range(6):
        lot.put(n, job(writer, n), (f"contact:{n % 3}",))
    assert len(lot) == 6
    taken = lot.take(["contact:1"])
    assert [seq for seq, _ in taken] == [1, 4]
    assert [(j.record, j.keys, j.work()) for _, j in taken] == [
        ({"n": 1}, ("event:1",), "wrote p1"),
        ({"n": 4}, ("event:4",), "wrote p4"),
    ]
    assert len(lot) == 4
    rest = lot.take_some(10)
    assert sorted(seq for seq, _ in rest) == [0, 2, 3, 5]
    assert sorted(j.work() for _, j in rest) == ["wrote p0", "wrote p2", "wrote p3", "wrote p5"]
    assert len(lot) == 0
    assert lot.take(["contact:0"]) == []
    lot.close()


def test_a_job_waiting_for_two_keys_is_taken_once() -> None:
    lot = ParkingLot()
    lot.put(7, job(Writer(), 7), ("contact:a", "contact:b"))
    assert [seq for seq, _ in lot.take(["contact:a", "contact:b"])] == [7]
    assert lot.take(["contact:b"]) == []
    assert len(lot) == 0


def test_a_job_waiting_for_several_contacts_waits_for_the_last_of_them() -> None:
    writer = Writer()
    lot = ParkingLot(in_memory=1)
    lot.put(1, job(writer, 1), ("contact:a", "contact:b"))
    lot.put(2, job(writer, 2), ("contact:a", "contact:b"))  # past the bound: on disk
    assert lot.take(["contact:a"]) == []
    assert [seq for seq, _ in lot.take(["contact:b"])] == [1, 2]
    assert len(lot) == 0
    lot.close()
