"""Parked records in the threaded pool: what later records settle of a parked rest, and
the memory many parked records cost. Plans are plain data, as the parking lot pickles them."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

from target_intercom.delivery import Delivery
from target_intercom.delivery.core import State
from target_intercom.errors import ContactNotYet
from target_intercom.metrics import Metrics
from target_intercom.stop_request import StopRequest

WAIT = 5.0


@dataclass(frozen=True)
class User:
    """A record that brings a contact into "Intercom"."""

    name: str
    also: tuple[str, ...] = ()

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        return (f"contact:{self.name}", *self.also)


@dataclass(frozen=True)
class Event:
    """A record that needs its contact: it waits, parked, until the contact comes."""

    user: str

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        return (f"contact:{self.user}",)


@dataclass(frozen=True)
class Members:
    """A rest: attaching these users to company c1 once they come. A later record that
    holds the company and one of them settles that one."""

    users: tuple[str, ...]

    @property
    def waits_for(self) -> tuple[str, ...]:
        return tuple(f"contact:{u}" for u in self.users)

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        return ("company:c1", *self.waits_for)

    @property
    def watches(self) -> tuple[str, ...]:
        return ("company:c1",)

    def after(self, later: tuple[str, ...]) -> Members:
        held = {k.removeprefix("shared:") for k in later}
        if "company:c1" not in held:
            return self
        return Members(tuple(u for u in self.users if f"contact:{u}" not in held))


@dataclass(frozen=True)
class Company:
    """A companies record about c1 listing users: it writes the company, and its members
    that are not there yet are left to a `Members` rest."""

    users: tuple[str, ...]
    gate: threading.Event | None = field(default=None, compare=False)

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        return ("company:c1", *(f"contact:{u}" for u in self.users))


class Workspace:
    """The writers: which contacts "Intercom" holds, and what each write did."""

    def __init__(self) -> None:
        self.arrived: set[str] = set()
        self.written: list[object] = []  # but events
        self.writes = 0
        self.parked = 0
        self._lock = threading.Lock()

    def write(self, plan: object) -> str:
        if isinstance(plan, Company) and plan.gate is not None:
            assert plan.gate.wait(WAIT)
        with self._lock:
            self.writes += 1
            if not isinstance(plan, Event):
                self.written.append(plan)
            if isinstance(plan, User):
                self.arrived.add(plan.name)
            users = [plan.user] if isinstance(plan, Event) else []
            if isinstance(plan, Company | Members):
                users = list(plan.users)
            missing = tuple(u for u in users if u not in self.arrived)
            if not missing:
                return "done"
            self.parked += 1
        keys = tuple(f"contact:{u}" for u in missing)
        if isinstance(plan, Company | Members):
            raise ContactNotYet(f"c1 waits for {missing}", keys, Members(missing))
        raise ContactNotYet(f"the event waits for {missing}", keys)

    def settled(self, plan: object) -> str | None:
        return None


def delivery_for(workspace: Workspace, written: list[State]) -> Delivery:
    return Delivery(
        writers=workspace,
        stop=StopRequest(),
        max_concurrency=4,
        dead_letter=None,
        write_state=written.append,
        metrics=Metrics(),
    )


def eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.001)


def test_a_later_record_naming_the_company_and_a_member_settles_that_membership() -> None:
    workspace = Workspace()
    states: list[State] = []
    delivery = delivery_for(workspace, states)
    delivery.submit("companies", "c1", {}, Company(("a", "b")))
    eventually(lambda: workspace.parked == 1)
    # u "a"'s own record names the company (a nested company, or one it leaves): it says
    # what a's membership is, so the parked rest must not attach "a" after it.
    delivery.submit("users", "a", {}, User("a", ("shared:company:c1",)))
    delivery.state({"at": 1})
    delivery.submit("users", "b", {}, User("b"))
    delivery.finish()
    assert delivery.failure is None
    rests = [plan for plan in workspace.written if isinstance(plan, Members)]
    assert rests == [Members(("b",))]
    assert states == [{"at": 1}]


def test_records_admitted_while_it_ran_settle_the_rest_it_parks() -> None:
    """The later records waiting for the companies record when it parks went ahead of it
    too: what they say is settled before the rest waits."""
    workspace = Workspace()
    states: list[State] = []
    delivery = delivery_for(workspace, states)
    gate = threading.Event()
    delivery.submit("companies", "c1", {}, Company(("a",), gate))
    # Admitted while the companies record runs: it waits for it (the company's key).
    delivery.submit("users", "a", {}, User("a", ("shared:company:c1",)))
    gate.set()
    delivery.finish()
    assert delivery.failure is None
    # Its rest was left with nothing to do: it never waited for "a", and attached nobody.
    assert [p for p in workspace.written if isinstance(p, Members)] == [Members(())]
    assert workspace.parked == 1


def test_the_awaited_user_holding_the_company_runs_before_the_parked_rest() -> None:
    """No deadlock: the rest waits for a user whose record holds the company too."""
    workspace = Workspace()
    states: list[State] = []
    delivery = delivery_for(workspace, states)
    delivery.submit("companies", "c1", {}, Company(("a", "b")))
    delivery.state({"at": 1})
    delivery.submit("companies", "c1 again", {}, Company(()))
    delivery.submit("users", "a", {}, User("a"))
    delivery.submit("users", "b", {}, User("b", ("shared:company:c1",)))
    delivery.state({"at": 2})
    delivery.finish()
    assert delivery.failure is None
    assert [p for p in workspace.written if isinstance(p, Members)][-1] == Members(("a",))
    assert states[-1] == {"at": 2}


def parked_memory(spilled: int) -> int:
    """Bytes traced once 10,000 events wait in memory and `spilled` more on disk."""
    workspace = Workspace()
    delivery = delivery_for(workspace, [])
    total = 10_000 + spilled
    tracemalloc.start()
    try:
        for i in range(total):
            delivery.submit("events", f"#{i}", {}, Event(f"u{i % 100}"))
        eventually(lambda: workspace.parked == total)
        time.sleep(0.05)  # the last ones are being parked
        used = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    for u in range(100):
        delivery.submit("users", f"u{u}", {}, User(f"u{u}"))
    delivery.finish()
    assert delivery.failure is None
    assert workspace.writes == 2 * total + 100
    return used


def test_parked_records_spilled_to_disk_cost_no_memory_each() -> None:
    """With N records on disk or 5N, memory is the same: nothing of a spilled record
    stays in memory, not its ledger entry nor its sequence number."""
    with_n = parked_memory(2_000)
    with_5n = parked_memory(10_000)
    per_record = (with_5n - with_n) / 8_000
    assert per_record < 10, f"{per_record:.0f} bytes per spilled record"
