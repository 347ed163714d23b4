"""How far the writers may go, from the settings: kept apart so the writers do not read
settings they have no use for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WriteModes:
    # Never create a contact or a company: a row naming none in Intercom is not written.
    update_only: bool = False
    # Send every row again, as if nothing had been written, but keep the ids known.
    full_resync: bool = False
    # Remove the tags and memberships this target made that a row no longer lists.
    mirror: bool = False
