"""One record as delivery carries it: data only, so that it can wait anywhere, even on disk.

Delivery never holds a closure: a job is the record, where it came from and its plan,
and the pool asks the run's `Writers` to write the plan. A job can then be pickled
whole when the parking lot spills it, whatever kind of record it is.

A record that waits for a contact may have written part of its plan at its turn (a
companies record writes the company; only attaching the members not in Intercom yet
waits): what it parks is then the rest of its plan, a `Rest`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class Plan(Protocol):
    """What delivery needs of a plan: the contacts and companies it must stay in order with."""

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        """The contacts and companies the record must stay in order with."""


class Rest(Plan, Protocol):
    """The part of a record's plan still to write once the contacts it waits for come.

    While it waits, later records run before it (they may be what it waits for); a
    later record that states what the rest would write makes that part of it moot, and
    `after` drops it, so that the rest never writes an older value over a newer one.
    """

    @property
    def waits_for(self) -> tuple[str, ...]:
        """The keys of the contacts it waits for."""

    @property
    def watches(self) -> tuple[str, ...]:
        """The keys a later record must hold to settle part of it (see `after`)."""

    @property
    def outcome(self) -> str:
        """What the record's own turn did, for the summary: what counts for the record
        when the contacts it waits for never come (its own part is written)."""

    def after(self, later: tuple[str, ...]) -> Rest:
        """What is left of it once a record later in the input, holding these ordering
        keys, was admitted: itself, or a narrower rest (perhaps with nothing to do)."""


class Writers(Protocol):
    """The run's writers, as delivery reaches them: one entry point for every kind of plan."""

    def write(self, plan: Any) -> str:
        """Applies the plan in Intercom; returns its outcome for the run summary."""
        ...

    def settled(self, plan: Any) -> str | None:
        """Its outcome when the plan needs no call, found without one; else None."""
        ...

    def prefetch(self, plans: list[Any]) -> None:
        """Reads at once what `settled` will ask of these plans (it may read nothing)."""
        ...


@dataclass(frozen=True, slots=True)
class Job:
    """A record on its way: `keys` are its plan's ordering keys, taken once."""

    stream: str
    record_key: str
    record: dict[str, Any]
    plan: Plan
    keys: tuple[str, ...]
