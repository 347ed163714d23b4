"""User records (the `users` stream) to Intercom contacts.

The mapping decides everything about a record that needs no call to Intercom: the standard
fields, the custom attributes and their types, the tags, the companies to attach or detach
(as company_links.py reads them: nested objects, or `company_*` columns), whether the
record is a soft delete, and the ordering keys. Finding the contact and sending the calls
is the writers' job. (A little over 300 lines: the field table of the users stream, one
entry a standard field, is most of it.)

Rows of Segment's and RudderStack's `identifies` and `users` tables, and messages carrying a
`context`, are read as warehouse.py says: their bookkeeping columns are never sent, and
`context.traits` fills in standard fields the record lacks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from target_intercom import keys
from target_intercom.errors import MappingError
from target_intercom.mapping.anonymous import raise_if_anonymous
from target_intercom.mapping.attributes import custom_attributes
from target_intercom.mapping.company_links import CompanyLink, company_links
from target_intercom.mapping.dates import to_unix_seconds
from target_intercom.mapping.fields import first_item
from target_intercom.mapping.messages import MappingWarning, describe_value
from target_intercom.mapping.options import ContactOptions
from target_intercom.mapping.row_time import row_time
from target_intercom.mapping.schema import RecordSchema
from target_intercom.mapping.values import tag_names, to_bool, to_text
from target_intercom.mapping.warehouse import (
    ANONYMOUS_ID_SOURCES,
    CONTEXT,
    MESSAGE_TIME_SOURCES,
    Row,
    email_of,
    identity_sources,
    user_id_item,
    with_traits,
)

ROLES = ("user", "lead")
EXTERNAL_ID_SOURCES = ("external_id", "user_id", "userId", "id")
_USER_ID_COLUMNS = ("user_id", "userId")
_MESSAGE_ROW_ID_SOURCES = tuple(s for s in EXTERNAL_ID_SOURCES if s != "id")
# `firstname` is how a camelCase trait reaches a warehouse that lower-cases column names.
_FIRST_NAME_SOURCES = ("first_name", "firstName", "firstname")
_LAST_NAME_SOURCES = ("last_name", "lastName", "lastname")
_TEXT_SOURCES = {"phone": ("phone",), "avatar": ("avatar",), "owner_id": ("owner_id", "ownerId")}
_SIGNED_UP_SOURCES = ("signed_up_at", "created_at", "createdAt")
# Intercom's API before 2.0 called last_seen_at `last_request_at`; Segment's trait is
# `lastRequestAt`.
_LAST_SEEN_SOURCES = ("last_seen_at", "lastSeenAt", "last_request_at", "lastRequestAt")
_LAST_REQUEST_SOURCES = ("lastRequestAt", "last_request_at")
# A call's times as a Segment message written as JSON names them, after a table's names.
_JSON_TIME_SOURCES = ("originalTimestamp", "sentAt", "receivedAt")
_UNSUBSCRIBED_SOURCES = ("unsubscribed_from_emails", "unsubscribedFromEmails")
_CONTEXT_ATTRIBUTES = {
    "device_type": ("device", "type"),
    "device_manufacturer": ("device", "manufacturer"),
    "device_model": ("device", "model"),
    "os_name": ("os", "name"),
    "os_version": ("os", "version"),
    "app_name": ("app", "name"),
    "app_version": ("app", "version"),
}
_CONSUMED = frozenset(
    EXTERNAL_ID_SOURCES
    + ANONYMOUS_ID_SOURCES
    + _FIRST_NAME_SOURCES
    + _LAST_NAME_SOURCES
    + _UNSUBSCRIBED_SOURCES
    + _SIGNED_UP_SOURCES
    + _LAST_SEEN_SOURCES
    + ("email", "name", "role", CONTEXT, "tags", "company", "companies")
    + tuple(name for sources in _TEXT_SOURCES.values() for name in sources)
)

__all__ = ["ContactOptions", "ContactPlan", "map_contact"]


@dataclass
class ContactPlan:
    """What one user record asks of Intercom."""

    fields: dict[str, Any]
    custom_attributes: dict[str, Any]
    attribute_types: dict[str, str]
    tags: list[str]
    companies: list[CompanyLink]
    deleted: bool
    warnings: list[MappingWarning]
    # When the row was made (Unix milliseconds, row_time.py), so that an older row of
    # the contact never overwrites a newer one's values; None: the row has no time.
    as_of: int | None = None

    @property
    def external_id(self) -> str | None:
        """The record's external_id, if it has one: the identity rule files the contact by it."""
        return self.fields.get("external_id")

    @property
    def email(self) -> str | None:
        """The record's email, if it has one."""
        return self.fields.get("email")

    def payload(self) -> dict[str, Any]:
        """The body for `POST /contacts` and `PUT /contacts/{id}`."""
        body = dict(self.fields)
        if self.custom_attributes:
            body["custom_attributes"] = dict(self.custom_attributes)
        return body

    def identities(self) -> tuple[str, ...]:
        """The contact's keys: how the run's id cache knows it."""
        return keys.contact(self.external_id, self.email)

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        """The contact (also by its phone: a group call may name it so), and the
        companies it links held shared: the users of one company run side by side (the
        company writer upserts it once, under its own lock), and a companies record about
        it stays in order with them."""
        phone = self.fields.get("phone")
        return (
            self.identities()
            + ((keys.contact_by_phone(str(phone)),) if phone else ())
            + tuple(keys.shared(keys.company(c.company_id)) for c in self.companies)
        )


def map_contact(
    record: Mapping[str, Any], schema: RecordSchema, options: ContactOptions
) -> ContactPlan:
    """Map one user record; raises `MappingError` when it cannot be sent at all."""
    record, schema = with_traits(record, schema, options.warehouse_columns)
    row = Row(record, schema, options.warehouse_columns)
    warnings: list[MappingWarning] = []
    fields = _identity(row, options)
    fields["role"] = _role(row, options, warnings)
    if fields["role"] == "lead":
        _lead_identity(fields, warnings)
    used: set[str] = set()
    as_of = row_time(row, options.row_time_column, warnings, "user")
    if options.row_time_column is not None:
        used.add(options.row_time_column)  # bookkeeping, like a message row's timestamp
    fields.update(_profile(row, options, used, warnings))
    companies = company_links(record, schema, options, used)
    attributes, types, attribute_warnings = custom_attributes(
        _attribute_values(row, options, used), schema, "contact"
    )
    for link in companies:
        warnings.extend(link.company.warnings if link.company else [])
    return ContactPlan(
        fields=fields,
        custom_attributes=attributes,
        attribute_types=types,
        tags=tag_names(record.get("tags")),
        companies=companies,
        deleted=record.get("_sdc_deleted_at") not in (None, ""),
        warnings=attribute_warnings + warnings,
        as_of=None if as_of is None else as_of[1],
    )


def _identity(row: Row, options: ContactOptions) -> dict[str, Any]:
    """external_id and email. In a row of an `identifies` table (it has a `user_id` column)
    `id` is the identify call's message id, never the user's."""
    message_id = row.message_id_in(*_USER_ID_COLUMNS)
    sources = _MESSAGE_ROW_ID_SOURCES if message_id else EXTERNAL_ID_SOURCES
    item = user_id_item(row, sources, options.anonymous_id_as_user_id)
    fields: dict[str, Any] = {}
    if item is not None:
        fields["external_id"] = to_text(item[1], "external_id")
    email = email_of(row)
    if email:
        fields["email"] = email
    if not fields:
        raise_if_anonymous(row, options, "User record")
        looked = identity_sources(row, sources, options.anonymous_id_as_user_id)
        raise MappingError(
            "User record has neither an external_id nor an email "
            f"(looked in {', '.join(looked)}): add one of those fields",
            "no_identity",
        )
    return fields


def _role(row: Row, options: ContactOptions, warnings: list[MappingWarning]) -> str:
    """The record's own role when it is one Intercom knows, else the `contact_role` setting."""
    item = row.field_item(("role",))
    if item is None:
        return options.role
    own = item[1]
    role = to_text(own, item[0]).strip().lower()
    if role in ROLES:
        return role
    warnings.append(
        MappingWarning(
            f"role:contact:{role[:40]}",
            f"User records carry role {describe_value(own)}, which Intercom does not know: "
            f"sent as {options.role!r} (the contact_role setting); use 'user' or 'lead'",
        )
    )
    return options.role


def _lead_identity(fields: dict[str, Any], warnings: list[MappingWarning]) -> None:
    """A lead is known by its email: Intercom takes `external_id` for users only (Segment's
    Intercom action: "External IDs cannot be set if the role is lead"), so none is sent."""
    if "external_id" not in fields:
        return
    if "email" not in fields:
        raise MappingError(
            "User record is a lead (role lead) with an external_id but no email: Intercom "
            "takes external_id for users only, so a lead is known by its email; add an email, "
            "or load the record as role user",
            "no_identity",
        )
    del fields["external_id"]
    warnings.append(
        MappingWarning(
            "lead_external_id:contact",
            "Lead records (role lead) carry an external_id, which is not sent: Intercom takes "
            "external_id for users only, so leads are created and found by their email",
        )
    )


def _profile(
    row: Row, options: ContactOptions, used: set[str], warnings: list[MappingWarning]
) -> dict[str, Any]:
    """The standard fields, each from the record's own columns first, then its context."""
    fields: dict[str, Any] = {}
    name = _name(row)
    if name:
        fields["name"] = name
    for field, names in _TEXT_SOURCES.items():
        item = row.field_item(names)
        if item is not None:
            fields[field] = to_text(item[1], item[0])
    item = row.field_item(_SIGNED_UP_SOURCES)
    if item is not None:
        fields["signed_up_at"] = to_unix_seconds(item[1], item[0])
    item = _last_seen(row, options, used, warnings)
    if item is not None:
        fields["last_seen_at"] = to_unix_seconds(item[1], item[0])
    item = _unsubscribed(row)
    if item is not None:
        fields["unsubscribed_from_emails"] = to_bool(item[1], item[0])
    return fields


def _name(row: Row) -> str:
    """`name`, else first and last name joined by a space (either alone is fine); from the
    record's own columns, else from `context.traits`."""

    def own(names: tuple[str, ...]) -> tuple[str, Any] | None:
        return first_item(row.record, *names)

    lookups: tuple[Callable[[tuple[str, ...]], tuple[str, Any] | None], ...] = (
        own,
        row.trait_item,
    )
    for lookup in lookups:
        item = lookup(("name",))
        if item is not None:
            return to_text(item[1], item[0])
        parts = (lookup(sources) for sources in (_FIRST_NAME_SOURCES, _LAST_NAME_SOURCES))
        name = " ".join(to_text(p[1], p[0]).strip() for p in parts if p is not None).strip()
        if name:
            return name
    return ""


def _last_seen(
    row: Row, options: ContactOptions, used: set[str], warnings: list[MappingWarning]
) -> tuple[str, Any] | None:
    """`last_seen_at` (or `lastRequestAt`) of the record, its context or its traits; else,
    in an identify call (`_is_call`, or any message row saying `context.active` is true)
    and unless its `context.active` is false, the call's own time: Segment's Intercom
    destination updates last_request_at on every identify "unless active: false"
    (`last_seen_from_calls` turns this off). The call's time, never the load's: a load of
    stored calls marks each contact seen when it made its call."""
    call = _is_call(row)
    if call:  # a call's times are its bookkeeping, whatever sets last seen
        used.update(s for s in (*MESSAGE_TIME_SOURCES, *_JSON_TIME_SOURCES) if s in row.record)
    item = (
        first_item(row.record, *_LAST_SEEN_SOURCES)
        or row.context_item((), _LAST_REQUEST_SOURCES)
        or row.trait_item(_LAST_SEEN_SOURCES)
    )
    if item is not None:
        return item
    if not options.last_seen_from_calls:
        return None
    active = row.context_item((), ("active",))
    said_active = active is not None and to_bool(active[1], active[0])
    if (active is not None and not said_active) or not (said_active or call):
        return None
    moment = _call_time(row)
    if moment is None and not said_active:
        return None
    if moment is None:
        warnings.append(
            MappingWarning(
                "active_without_time:contact",
                "User records say context.active is true but carry no time of the call "
                f"({', '.join(MESSAGE_TIME_SOURCES)}): last_seen_at is not set from them; "
                "add the call's timestamp",
            )
        )
        return None
    used.add(moment[0])
    return moment


def _call_time(row: Row) -> tuple[str, Any] | None:
    """The first of the call's times that is a date (one that is not gives way to the
    next, as row_time.py reads them: it warns about it once)."""
    for source in (*MESSAGE_TIME_SOURCES, *_JSON_TIME_SOURCES):
        item = first_item(row.record, source)
        if item is None:
            continue
        try:
            to_unix_seconds(item[1], item[0])
        except MappingError:
            continue
        return item
    return None


def _is_call(row: Row) -> bool:
    """Whether the row is one identify call: a row of an `identifies` table (a message row
    naming its user, or its anonymous visitor), or a record with a nested `context`; not a
    `users` table's row (one per user, its time when the pipeline last received one)."""
    if not row.enabled:
        return False
    if isinstance(row.record.get(CONTEXT), Mapping):
        return True
    return row.message and any(row.has(c) for c in (*_USER_ID_COLUMNS, *ANONYMOUS_ID_SOURCES))


def _unsubscribed(row: Row) -> tuple[str, Any] | None:
    """The record's own flag, else Segment's `context.Intercom.unsubscribedFromEmails`, else
    `context.unsubscribedFromEmails`, else the traits in context."""
    return (
        first_item(row.record, *_UNSUBSCRIBED_SOURCES)
        or row.context_item(("Intercom",), _UNSUBSCRIBED_SOURCES)
        or row.context_item(("intercom",), _UNSUBSCRIBED_SOURCES)
        or row.context_item((), _UNSUBSCRIBED_SOURCES)
        or row.trait_item(_UNSUBSCRIBED_SOURCES)
    )


def _attribute_values(row: Row, options: ContactOptions, used: set[str]) -> dict[str, Any]:
    """The fields that become custom attributes; the record's own win over context ones."""
    own = {
        name: value
        for name, value in row.record.items()
        if name not in _CONSUMED and name not in used and not row.is_pipeline(name)
    }
    if not options.include_context:
        return own
    return {**_context_attributes(row), **own}


def _context_attributes(row: Row) -> dict[str, Any]:
    """Device, OS and app of the call: from a nested `context` (whatever warehouse_columns
    says, as before it existed), else from a message row's `context_*` columns."""
    context = row.record.get(CONTEXT)
    attributes = {}
    for attribute, (section, key) in _CONTEXT_ATTRIBUTES.items():
        part = context.get(section) if isinstance(context, Mapping) else None
        if isinstance(part, Mapping) and part.get(key) not in (None, ""):
            attributes[attribute] = part[key]
            continue
        item = row.context_item((section,), (key,))
        if item is not None:
            attributes[attribute] = item[1]
    return attributes
