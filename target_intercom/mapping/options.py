"""The target settings that change how records map, for all three streams."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from target_intercom.errors import FatalError


@dataclass(frozen=True)
class ContactOptions:
    """The target settings that change how a record maps (users, companies and events
    alike; the name is historical: it began with the users stream)."""

    role: str = "user"
    anonymous_id_as_user_id: bool = False
    last_seen_from_calls: bool = True
    include_context: bool = False
    warehouse_columns: bool = True
    company_columns: bool = True
    # Whether `lookup_fields` lists `phone`: then a group call's phone names its member.
    phone_lookup: bool = False
    # The `row_time_columns` setting, as (stream, column) pairs; and the column that gives
    # the time of this stream's rows (see row_time.py), once `for_stream` chose it.
    row_time_columns: tuple[tuple[str, str], ...] = ()
    row_time_column: str | None = None
    # The stream's key properties, once the sink set them: a custom object's external id.
    key_properties: tuple[str, ...] = ()

    def for_stream(self, names: Iterable[str]) -> ContactOptions:
        """The options of one sink's records: `names` are its stream name and the tap's
        streams that stream_maps send to it, any of which the setting may name (one
        column for all of them: the sink cannot tell whose a record is)."""
        named = dict(self.row_time_columns)
        given = {name: named[name] for name in names if name in named}
        if len(set(given.values())) > 1:
            listed = ", ".join(f"{name!r}: {column!r}" for name, column in given.items())
            raise FatalError(
                f"row_time_columns names different columns ({listed}) for streams that "
                "load as one stream: name one column for all of them"
            )
        return replace(self, row_time_column=next(iter(given.values()), None))
