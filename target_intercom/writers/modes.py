"""How far the writers may go, from the settings: kept apart so the writers do not read
settings they have no use for."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class WriteModes:
    """The write settings a writer obeys, and nothing else of the settings."""

    # Never create a contact or a company: a row naming none in Intercom is not written.
    update_only: bool = False
    # Send every row again, as if nothing had been written, but keep the ids known.
    full_resync: bool = False
    # Remove the tags and memberships this target made that a row no longer lists.
    mirror: bool = False

    def covers(self, applied: Iterable[str], wanted: Iterable[str | None]) -> bool:
        """Whether what this target applied already holds all that a record wants (and,
        under mirror, nothing more): then tags or memberships need no call."""
        if self.mirror:
            return set(wanted) == set(applied)
        return set(wanted) <= set(applied)
