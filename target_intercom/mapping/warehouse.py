"""Rows of Segment's and RudderStack's warehouse tables, and their `context`.

Both write one table per kind of call (`identifies`, `users`, `groups`, `tracks`, one table
per track event such as `order_completed`), with the call's traits or properties as
top-level columns, its `context` flattened into `context_*` columns, and bookkeeping columns
of their own (Segment: "Warehouse Schemas", segment.com/docs/connections/storage/warehouses/
schema/; RudderStack: "Warehouse Schema", rudderstack.com/docs/destinations/
warehouse-destinations/warehouse-schema/):

- `received_at` (on every table of both: Segment sorts every table on it), `sent_at`,
  `timestamp`, `original_timestamp`, `uuid_ts`, Segment's `uuid` and BigQuery `loaded_at`,
  RudderStack's `channel`; `event_text` (the event's name) next to `event` (its table's
  slug: "order_completed" for "Order Completed").
- `id`: the message id, except in the `users` table, where it is the user's id (Segment:
  "The `id` column in the users table is the same as the `user_id` column in the
  identifies table"; RudderStack: "The field will be the user ID in case of users table").
- `context_*`: `context_ip`, `context_library_name`, RudderStack's `context_destination_*`,
  `context_source_*`, `context_request_ip`, and `context_traits_*` (the user's traits that
  rode along with the call).

A record is read as such a row (a *message row*) when its stream's schema or the record has
one of the columns only those tables have in common: `received_at`, `uuid_ts`,
`original_timestamp`, `event_text`. Then the bookkeeping and `context_*` columns are never
sent, and the message's context gives fallbacks. A nested `context` object (a message as
JSON rather than as a table row) gives the same fallbacks in any record. All of it is off
with the `warehouse_columns` setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from target_intercom.mapping.fields import first_item
from target_intercom.mapping.schema import RecordSchema
from target_intercom.mapping.values import to_text

MESSAGE_MARKERS = ("received_at", "uuid_ts", "original_timestamp", "event_text")
"""Columns every (or nearly every) table of both tools has, and ordinary tables rarely do."""

MESSAGE_COLUMNS = frozenset(
    {
        "received_at",
        "sent_at",
        "timestamp",
        "original_timestamp",
        "uuid_ts",
        "uuid",
        "loaded_at",
        "event_text",
        "channel",
    }
)
"""Bookkeeping of the pipeline in a message row: never sent as attributes or metadata."""

JSON_MESSAGE_MARKERS = ("messageId", "receivedAt", "originalTimestamp")
"""Fields every call kept whole as JSON has (Segment's and RudderStack's message format: a
raw event stream, a warehouse's JSON column, files of calls), beside its nested `context`."""

JSON_MESSAGE_COLUMNS = frozenset(
    {
        "messageId",
        "type",
        "sentAt",
        "receivedAt",
        "originalTimestamp",
        "timestamp",
        "integrations",
        "channel",
        "version",
        "rudderId",
        "request_ip",
        "_metadata",
    }
)
"""Bookkeeping of the pipeline in such a call: never sent as attributes or metadata."""

TRAITS = "traits"
CONTEXT = "context"
CONTEXT_PREFIX = "context_"
MESSAGE_TIME_SOURCES = ("timestamp", "original_timestamp", "sent_at", "received_at")
"""When the call happened, best first: Segment's docs say to use `timestamp` (clock skew
corrected; what its destinations send as the event's time), then the client's own times,
then when the pipeline received it."""

_EMPTY: Mapping[str, Any] = {}


class Row:
    """One record as Segment's and RudderStack's conventions read it (or as it is, when
    `enabled` is false)."""

    def __init__(self, record: Mapping[str, Any], schema: RecordSchema, enabled: bool) -> None:
        self.record = record
        self.enabled = enabled
        self._schema = schema
        self.message = enabled and (
            schema.declares_any(MESSAGE_MARKERS) or not record.keys().isdisjoint(MESSAGE_MARKERS)
        )
        nested = record.get(CONTEXT) if enabled else None
        self._nested: Mapping[str, Any] = nested if isinstance(nested, Mapping) else _EMPTY
        self._flat: dict[str, str] = (
            {name.lower(): name for name in record if _is_context_column(name)}
            if self.message
            else {}
        )
        self.json_message = bool(self._nested) and (
            not record.keys().isdisjoint(JSON_MESSAGE_MARKERS)
            or schema.declares_any(JSON_MESSAGE_MARKERS)
        )
        # Most rows carry no context at all: then every look-up in it is answered at once.
        self._has_context = bool(self._nested or self._flat)

    def has(self, column: str) -> bool:
        """Whether the table has `column`: in this record, or in its stream's schema (a
        column that is NULL in this row may be left out of the record)."""
        return column in self.record or self._schema.declares(column)

    def message_id_in(self, *owner_columns: str) -> bool:
        """Whether `id` is the message's id rather than the record's own: in a message row
        of a table that names its subject in `owner_columns` (`user_id` in `identifies`,
        `group_id` in `groups`), unlike Segment's and RudderStack's `users` tables."""
        return self.message and any(self.has(column) for column in owner_columns)

    def is_pipeline(self, column: str) -> bool:
        """A bookkeeping or context column of a message row, or a bookkeeping field of a
        call kept whole as JSON: never sent."""
        if self.json_message and column in JSON_MESSAGE_COLUMNS:
            return True
        return self.message and (column in MESSAGE_COLUMNS or _is_context_column(column))

    def context_item(self, path: tuple[str, ...], names: tuple[str, ...]) -> tuple[str, Any] | None:
        """The first of `names` set under `context.<path>`, nested (`context.traits.email`)
        or flattened (`context_traits_email`, matched case-insensitively, as RudderStack
        may lower-case names), with the name it was found under for error messages."""
        if not self._has_context:
            return None
        part: Any = self._nested
        for key in path:
            part = part.get(key) if isinstance(part, Mapping) else None
        nested = part if isinstance(part, Mapping) else _EMPTY
        for name in names:
            item = first_item(nested, name)
            if item is not None:
                return ".".join((CONTEXT, *path, name)), item[1]
            column = self._flat.get("_".join((CONTEXT, *path, name)).lower())
            if column is not None:
                item = first_item(self.record, column)
                if item is not None:
                    return item
        return None

    def trait_item(self, names: tuple[str, ...]) -> tuple[str, Any] | None:
        """The first of `names` in `context.traits`: the user's traits riding with a call."""
        return self.context_item(("traits",), names)

    def field_item(self, names: tuple[str, ...]) -> tuple[str, Any] | None:
        """A standard field: the record's own column first, else `context.traits`."""
        item = first_item(self.record, *names)
        return item if item is not None or not self._has_context else self.trait_item(names)


def with_traits(
    record: Mapping[str, Any], schema: RecordSchema, enabled: bool
) -> tuple[Mapping[str, Any], RecordSchema]:
    """The record with the fields of its `traits` object read as its own columns: an
    identify or group call kept whole as JSON carries the user's or the company's fields
    there (`{"userId": ..., "traits": {"email": ...}}`), as does a table's JSON `traits`
    column. A non-empty column of the record's own wins over a trait of the same name."""
    traits = record.get(TRAITS) if enabled else None
    if not isinstance(traits, Mapping):
        return record, schema
    merged = dict(traits)
    for name, value in record.items():
        if name != TRAITS and ((value is not None and value != "") or name not in merged):
            merged[name] = value
    return merged, schema.lifted(TRAITS)


ANONYMOUS_ID_SOURCES = ("anonymous_id", "anonymousId")
TRAIT_USER_ID_SOURCES = ("user_id", "userId", "id")
"""The user's id among the call's traits: RudderStack's v2 Intercom destination reads
`context.traits.id` too (`context_traits_id` in its warehouse). Only ever under
`context.traits`: a message row's own `id` is the message id."""


def user_id_item(
    row: Row, sources: tuple[str, ...], anonymous_id_as_user_id: bool
) -> tuple[str, Any] | None:
    """The contact's external id, as users and events read it alike: the first of
    `sources`, else the call's `context.traits` user id (`user_id`, `userId`, `id`), else
    (only with the setting) its anonymous id, so that an event finds the contact its
    identify call created."""
    item = first_item(row.record, *sources) or row.trait_item(TRAIT_USER_ID_SOURCES)
    if item is None and anonymous_id_as_user_id:
        item = first_item(row.record, *ANONYMOUS_ID_SOURCES)
    return item


def email_of(row: Row) -> str:
    """The record's email, else its `context.traits.email`; stripped, "" when neither."""
    for item in (first_item(row.record, "email"), row.trait_item(("email",))):
        email = to_text(item[1], item[0]).strip() if item is not None else ""
        if email:
            return email
    return ""


def identity_sources(
    row: Row, sources: tuple[str, ...], anonymous_id_as_user_id: bool
) -> list[str]:
    """Where `user_id_item` and `email_of` look, in order, for a message naming none."""
    looked = [*sources]
    if row.enabled:
        looked += [f"context.traits.{name}" for name in TRAIT_USER_ID_SOURCES]
    if anonymous_id_as_user_id:
        looked += ANONYMOUS_ID_SOURCES
    looked += ["email", "context.traits.email"] if row.enabled else ["email"]
    return looked


def _is_context_column(name: str) -> bool:
    return name.lower().startswith(CONTEXT_PREFIX)
