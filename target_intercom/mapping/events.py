"""Event records (the `events` stream) to Intercom data events (`POST /events`).

Intercom keeps at most 10 metadata keys and takes, besides strings and numbers, only two kinds
of object: a rich link `{url, value}` and a monetary amount `{amount, currency}`. It treats a
key as a date only when the key ends in `_date`. The mapping shapes metadata to those rules so
that nothing is silently lost in Intercom: what it has to drop or cut, it warns about.

A row of Segment's or RudderStack's `tracks` table or of a per-event table such as
`order_completed` (warehouse.py) is read as those tools write it: the name is `event_text`
(`event` is the table's slug, "order_completed" for "Order Completed"), the time is the
call's `timestamp` (else `original_timestamp`, `sent_at`, `received_at`), `id` is the message
id, and the bookkeeping and `context_*` columns are not metadata; `name` and `created_at`
are then ordinary properties.

The contact is named by its external id (`user_id`), else its email, else its Intercom id
(`id`, which names leads too): from an `intercom_contact_id` column, or, as RudderStack's v2
destination sends a lead's events, `properties.id`. Never by a message row's own `id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_intercom import keys
from target_intercom.errors import MappingError
from target_intercom.mapping.anonymous import raise_if_anonymous
from target_intercom.mapping.dates import to_unix_seconds
from target_intercom.mapping.fields import first_item, first_value, flatten
from target_intercom.mapping.messages import MappingWarning, describe_value
from target_intercom.mapping.options import ContactOptions
from target_intercom.mapping.schema import SDC_PREFIX, RecordSchema
from target_intercom.mapping.values import (
    coerce_value,
    round_half_up,
    to_decimal,
    to_text,
    truncate,
)
from target_intercom.mapping.warehouse import (
    ANONYMOUS_ID_SOURCES,
    CONTEXT,
    MESSAGE_TIME_SOURCES,
    Row,
    email_of,
    identity_sources,
    user_id_item,
)

MAX_METADATA_KEYS = 10
EVENT_NAME_SOURCES = ("event_name", "event", "name")
CREATED_AT_SOURCES = ("created_at", "timestamp", "original_timestamp", "originalTimestamp")
USER_ID_SOURCES = ("user_id", "userId", "external_id")
MESSAGE_NAME_SOURCES = ("event_name", "event_text", "event")
"""The event's name in a message row: `event_text` is the name as sent, `event` a slug."""
INTERCOM_ID_COLUMN = "intercom_contact_id"
"""A column naming the event's contact by its Intercom id (`POST /events` takes `id`)."""
PROPERTIES_ID = "properties.id"
_CONTACT_SOURCES = (
    *USER_ID_SOURCES,
    "email",
    "properties",
    CONTEXT,
    *ANONYMOUS_ID_SOURCES,
    INTERCOM_ID_COLUMN,
)
_CONSUMED = frozenset(EVENT_NAME_SOURCES + CREATED_AT_SOURCES + _CONTACT_SOURCES)
_MESSAGE_CONSUMED = frozenset(
    MESSAGE_NAME_SOURCES + MESSAGE_TIME_SOURCES + _CONTACT_SOURCES + ("id",)
)
_RICH_LINK_KEYS = frozenset({"url", "value"})
_MONEY_KEYS = frozenset({"amount", "currency"})
_REVENUE_KEYS = frozenset({"revenue", "currency"})


@dataclass
class EventPlan:
    """One `POST /events` body and what mapping it had to say."""

    payload: dict[str, Any]
    warnings: list[MappingWarning]

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        """The contact the event is sent for (as `user_id` or `email`): its upsert goes first.
        None for an event by Intercom id: it names a contact Intercom has already."""
        return keys.contact(self.payload.get("user_id"), self.payload.get("email"))


def map_event(
    record: Mapping[str, Any],
    schema: RecordSchema,
    options: ContactOptions = ContactOptions(),  # noqa: B008 (frozen: one shared default)
) -> EventPlan:
    """Map one event record; raises `MappingError` when it cannot be sent at all.

    When more than 10 metadata keys remain after shaping, `price` is kept first and then the
    other keys in sorted order, so every record of an event keeps the same keys.
    """
    row = Row(record, schema, options.warehouse_columns)
    event_name = _event_name(row)
    payload: dict[str, Any] = {"event_name": event_name, "created_at": _created_at(row)}
    contact, contact_source = _contact(row, options)
    payload.update(contact)
    source, source_schema = _metadata_source(row, schema)
    if contact_source == PROPERTIES_ID:
        source = {key: value for key, value in source.items() if key != "id"}
    metadata, warnings = _metadata(source, source_schema, event_name)
    if metadata:
        payload["metadata"] = metadata
    return EventPlan(payload=payload, warnings=warnings)


def _event_name(row: Row) -> str:
    sources = MESSAGE_NAME_SOURCES if row.message else EVENT_NAME_SOURCES
    item = first_item(row.record, *sources)
    if item is None:
        raise MappingError(
            f"Event record has no event name (looked in {', '.join(sources)}): "
            "add one of those fields",
            "no_event_name",
        )
    return to_text(item[1], "event_name")


def _created_at(row: Row) -> int:
    """When the event happened; never "now", which would defeat Intercom's duplicate check."""
    sources = MESSAGE_TIME_SOURCES if row.message else CREATED_AT_SOURCES
    item = first_item(row.record, *sources)
    if item is None:
        raise MappingError(
            f"Event record has no time (looked in {', '.join(sources)}): add when "
            "the event happened; the target never uses the load time, since Intercom "
            "deduplicates events on it",
            "no_created_at",
        )
    return to_unix_seconds(item[1], item[0])


def _contact(row: Row, options: ContactOptions) -> tuple[dict[str, str], str]:
    """`user_id` (the contact's external_id) when the record has one, else `email`, else
    `id` (the contact's Intercom id); with the column it was found in.

    The call's `context.traits` stand in for an id or email the record lacks, and with
    `anonymous_id_as_user_id` its anonymous id is the user id when it has no other, as
    for the users stream (so an event finds the contact its identify call created). An
    Intercom id names any contact, leads too: RudderStack sends a lead's events that way.
    """
    item = user_id_item(row, USER_ID_SOURCES, options.anonymous_id_as_user_id)
    if item is not None:
        return {"user_id": to_text(item[1], "user_id")}, item[0]
    email = email_of(row)
    if email:
        return {"email": email}, "email"
    item = _intercom_id_item(row)
    if item is not None:
        return {"id": to_text(item[1], item[0])}, item[0]
    raise_if_anonymous(row, options, "Event record")
    looked = identity_sources(row, USER_ID_SOURCES, options.anonymous_id_as_user_id)
    looked += [INTERCOM_ID_COLUMN] + ([PROPERTIES_ID] if row.enabled else [])
    hint = (
        ""
        if options.anonymous_id_as_user_id
        else ("; an anonymous id counts only with anonymous_id_as_user_id")
    )
    raise MappingError(
        f"Event record names no contact (looked in {', '.join(looked)}): "
        f"add the contact's external id, email or Intercom id{hint}",
        "no_identity",
    )


def _intercom_id_item(row: Row) -> tuple[str, Any] | None:
    """The contact's Intercom id: the `intercom_contact_id` column (any row shape), else,
    as RudderStack's v2 destination reads a lead's events, `properties.id`. Never a
    message row's own `id`, which is the message's."""
    item = first_item(row.record, INTERCOM_ID_COLUMN)
    if item is not None or not row.enabled:
        return item
    properties = row.record.get("properties")
    if not isinstance(properties, Mapping):
        return None
    item = first_item(properties, "id")
    return None if item is None else (PROPERTIES_ID, item[1])


def _metadata_source(row: Row, schema: RecordSchema) -> tuple[Mapping[str, Any], RecordSchema]:
    """The `properties` object when there is one, else the fields no event field consumed
    (in a message row: nor the pipeline's own columns)."""
    record = row.record
    properties = record.get("properties")
    if properties is None:
        consumed = _MESSAGE_CONSUMED if row.message else _CONSUMED
        rest = {
            key: value
            for key, value in record.items()
            if key not in consumed and not row.is_pipeline(key)
        }
        return rest, schema
    if not isinstance(properties, Mapping):
        raise MappingError(
            f"properties must be an object, not {describe_value(properties)}", "bad_properties"
        )
    return properties, schema.child("properties")


def _metadata(
    source: Mapping[str, Any], schema: RecordSchema, event_name: str
) -> tuple[dict[str, Any], list[MappingWarning]]:
    """Metadata in Intercom's shape: flat, typed, `price` from revenue, at most 10 keys."""
    price, warnings = _price(source, event_name)
    rest = {key: value for key, value in source.items() if not (price and key in _REVENUE_KEYS)}
    metadata: dict[str, Any] = {}
    for key, value in flatten(rest, keep=_kept_whole).items():
        if value is None or key.startswith(SDC_PREFIX):
            continue
        if isinstance(value, list):
            warnings.append(_list_warning(event_name, key))
            continue
        key, value = _metadata_item(key, value, schema)
        metadata[key], cut = truncate(
            value,
            f"truncated:event:{event_name}:{key}",
            f"Metadata {key!r} of event {event_name!r}",
        )
        warnings.extend(cut)
    if price:
        warnings.extend(_price_warnings(metadata, event_name))
        metadata["price"] = price
    return _capped(metadata, event_name, warnings)


def _price(
    source: Mapping[str, Any], event_name: str
) -> tuple[dict[str, Any] | None, list[MappingWarning]]:
    """`revenue` (+ `currency`, default usd) as Intercom's monetary amount, in cents.

    Two cases keep `revenue` as an ordinary property instead, with a warning once per event
    name: a `price` that already is a monetary amount `{amount, currency}` (it is sent as it
    is), and a revenue that is not a number (test data and hand-made events carry "free").
    """
    revenue = first_value(source, "revenue")
    if revenue is None:
        return None, []
    price = source.get("price")
    if isinstance(price, Mapping) and frozenset(price) == _MONEY_KEYS and _kept_whole(price):
        message = (
            f"Event {event_name!r} has a revenue and a price that is already a monetary "
            "amount: price is sent as it is, and revenue as an ordinary property"
        )
        return None, [MappingWarning(f"price_kept:event:{event_name}", message)]
    try:
        amount = to_decimal(revenue, "revenue")
    except MappingError:
        message = (
            f"Event {event_name!r} has a revenue that is not a number "
            f"({describe_value(revenue)}): sent as an ordinary property, with no price; "
            "send revenue as a number to get Intercom's price"
        )
        return None, [MappingWarning(f"revenue_not_a_number:event:{event_name}", message)]
    currency = first_value(source, "currency")
    currency_text = to_text(currency or "usd", "currency").strip().lower()
    return {"amount": round_half_up(amount * 100), "currency": currency_text}, []


def _price_warnings(metadata: Mapping[str, Any], event_name: str) -> list[MappingWarning]:
    if "price" not in metadata:
        return []
    message = f"Event {event_name!r} has both revenue and price: price is taken from revenue"
    return [MappingWarning(f"price:event:{event_name}", message)]


def _kept_whole(obj: Mapping[str, Any]) -> bool:
    """Rich links and monetary amounts, the only objects Intercom takes as metadata values."""
    keys = frozenset(obj)
    return keys in (_RICH_LINK_KEYS, _MONEY_KEYS) and all(obj[key] is not None for key in keys)


def _metadata_item(key: str, value: Any, schema: RecordSchema) -> tuple[str, Any]:
    if isinstance(value, Mapping):
        return key, _whole_object(value, key)
    data_type = schema.data_type(key, value)
    if data_type == "date":
        return (key if key.endswith("_date") else f"{key}_date"), to_unix_seconds(value, key)
    if data_type == "boolean" or isinstance(value, bool):
        data_type = "string"  # Intercom metadata has no boolean type: true/false as text.
    return key, coerce_value(value, data_type, key)


def _whole_object(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    if frozenset(obj) == _RICH_LINK_KEYS:
        return {
            "url": to_text(obj["url"], f"{key}.url"),
            "value": to_text(obj["value"], f"{key}.value"),
        }
    currency = to_text(obj["currency"], f"{key}.currency").strip().lower()
    return {
        "amount": round_half_up(to_decimal(obj["amount"], f"{key}.amount")),
        "currency": currency,
    }


def _list_warning(event_name: str, key: str) -> MappingWarning:
    return MappingWarning(
        f"list:event:{event_name}:{key}",
        f"Metadata {key!r} of event {event_name!r} is a list, which Intercom does not take: "
        "left out",
    )


def _capped(
    metadata: dict[str, Any], event_name: str, warnings: list[MappingWarning]
) -> tuple[dict[str, Any], list[MappingWarning]]:
    """At most 10 keys, chosen so that every record of an event keeps the same ones.

    `price` comes first (it is what revenue reports need), then the other keys in sorted
    order; the rest are dropped with a warning naming them, once per event name.
    """
    if len(metadata) <= MAX_METADATA_KEYS:
        return metadata, warnings
    order = (["price"] if "price" in metadata else []) + sorted(set(metadata) - {"price"})
    kept, dropped = order[:MAX_METADATA_KEYS], order[MAX_METADATA_KEYS:]
    warnings.append(
        MappingWarning(
            f"metadata_keys:{event_name}",
            f"Event {event_name!r} has {len(order)} metadata keys but Intercom keeps "
            f"{MAX_METADATA_KEYS}: dropped {', '.join(dropped)} (price first, then keys in "
            "sorted order are kept); send fewer properties to choose which stay",
        )
    )
    return {key: metadata[key] for key in kept}, warnings
