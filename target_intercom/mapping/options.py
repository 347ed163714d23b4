"""The target settings that change how records map, for all three streams."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContactOptions:
    """The target settings that change how a record maps (users, companies and events
    alike; the name is historical: it began with the users stream)."""

    role: str = "user"
    anonymous_id_as_user_id: bool = False
    include_context: bool = False
    warehouse_columns: bool = True
    company_columns: bool = True
