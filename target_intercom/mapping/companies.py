"""Company records (the `companies` stream, and company objects on user records) to Intercom.

`POST /companies` creates or updates a company keyed by `company_id`; the plan also carries
what the writer does around that call: the tags to apply and the contacts to attach.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from target_intercom import keys
from target_intercom.errors import MappingError
from target_intercom.mapping.attributes import custom_attributes
from target_intercom.mapping.dates import to_unix_seconds
from target_intercom.mapping.fields import first_item, first_value
from target_intercom.mapping.messages import MappingWarning, describe_value
from target_intercom.mapping.options import ContactOptions
from target_intercom.mapping.row_time import row_time
from target_intercom.mapping.schema import RecordSchema
from target_intercom.mapping.values import tag_names, to_int, to_text
from target_intercom.mapping.warehouse import ANONYMOUS_ID_SOURCES, CONTEXT, Row, with_traits

COMPANY_ID_SOURCES = ("company_id", "group_id", "groupId", "id")
_GROUP_ID_COLUMNS = ("group_id", "groupId")
_TEXT_SOURCES = {
    "name": ("name",),
    "website": ("website",),
    "plan": ("plan",),
    "industry": ("industry",),
}
_INT_SOURCES = {"size": ("size", "employees"), "monthly_spend": ("monthly_spend", "monthlySpend")}
_CREATED_SOURCES = ("remote_created_at", "remoteCreatedAt", "created_at", "createdAt")
_REMOTE_CREATED_TRAITS = ("remote_created_at", "remoteCreatedAt")
_FROM_TRAITS = frozenset({"plan", "industry", "size", "monthly_spend", "remote_created_at"})
_USER_ID_SOURCES = ("user_id", "userId")
READ_ONLY_TRAITS = (
    "userCount",
    "user_count",
    "usercount",
    "sessionCount",
    "session_count",
    "sessioncount",
    "segments",
)
"""Group traits RudderStack's v2 Intercom destination takes as standard, which are no
custom attributes (a warehouse lower-cases the camelCase ones): Intercom counts a
company's users and sessions and keeps its segments itself, and 2.16's `POST /companies`
(create_or_update_company_request) has no field for them. Sent as custom attributes they
would refuse the whole company under the default unknown_attributes; they are dropped,
told once each."""
# A group call's columns that name its user, by whether lookup_fields lists phone.
_GROUP_CALL_MEMBER_COLUMNS = {False: ("email",), True: ("email", "phone")}
_CONSUMED = frozenset(
    COMPANY_ID_SOURCES
    + READ_ONLY_TRAITS
    + _CREATED_SOURCES
    + _USER_ID_SOURCES
    + ANONYMOUS_ID_SOURCES
    + ("user_ids", "user_email", "user_emails", "tags")
    + tuple(name for sources in _TEXT_SOURCES.values() for name in sources)
    + tuple(name for sources in _INT_SOURCES.values() for name in sources)
)


@dataclass
class CompanyPlan:
    """What one company record asks of Intercom."""

    fields: dict[str, Any]
    custom_attributes: dict[str, Any]
    attribute_types: dict[str, str]
    tags: list[str]
    user_ids: list[str]
    warnings: list[MappingWarning]
    user_emails: list[str] = field(default_factory=list)
    """Emails of contacts to attach, for those the record names by email rather than by
    external_id (`user_email`, `user_emails`, or the call's `context.traits.email`); each
    is looked up, as `user_ids` are."""
    as_of: int | None = None
    """When the row was made (see ContactPlan.as_of)."""
    user_phones: list[str] = field(default_factory=list)
    """Phones of contacts to attach, for a group call that names its user by neither id
    nor email, when `lookup_fields` lists phone; each is looked up by one search."""

    @property
    def company_id(self) -> str:
        """The company's own id, as records and the sync store name it."""
        return str(self.fields["company_id"])

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        """The company, and the contacts it attaches (their upserts must land first)."""
        return (
            keys.company(self.company_id),
            *(keys.contact_by_external_id(user_id) for user_id in self.user_ids),
            *(keys.contact_by_email(email) for email in self.user_emails),
            *(keys.contact_by_phone(phone) for phone in self.user_phones),
        )

    def payload(self) -> dict[str, Any]:
        """The body for `POST /companies`."""
        body = dict(self.fields)
        if self.custom_attributes:
            body["custom_attributes"] = dict(self.custom_attributes)
        return body


def company_id_of(
    record: Mapping[str, Any],
    where: str = "Company record",
    sources: tuple[str, ...] = COMPANY_ID_SOURCES,
) -> str:
    """The record's company id, as the string Intercom wants; `where` names it in the error."""
    value = first_value(record, *sources)
    if value is None:
        raise MappingError(
            f"{where} has no company id (looked in {', '.join(sources)}): add one of those fields",
            "no_company_id",
        )
    return to_text(value, "company_id")


def company_id_from_name(name: str) -> str:
    """A company id for a company known only by its name: the MD5 of the name, in hex.

    Stable across runs and machines, and the id RudderStack's Intercom destination gives
    such a company (`company.id || md5(company.name)`), so both name it alike. Segment's
    classic destination used a 32-bit `string-hash` of the name ("Legacy"), which collides
    between companies long before a workspace is large.
    """
    return hashlib.md5(name.encode("utf-8"), usedforsecurity=False).hexdigest()


def map_company(
    record: Mapping[str, Any],
    schema: RecordSchema,
    options: ContactOptions = ContactOptions(),  # noqa: B008 (frozen: one shared default)
) -> CompanyPlan:
    """Map one company record; every standard field's aliases are consumed, the rest are
    custom attributes (model `company`).

    In a row of a `groups` table (see warehouse.py) `id` is the group call's message id, not
    the company's: the company id comes from `company_id`/`group_id`/`groupId` only.
    """
    record, schema = with_traits(record, schema, options.warehouse_columns)
    row = Row(record, schema, options.warehouse_columns)
    message_id = row.message_id_in(*_GROUP_ID_COLUMNS)
    sources = tuple(s for s in COMPANY_ID_SOURCES if not (message_id and s == "id"))
    fields: dict[str, Any] = {"company_id": company_id_of(record, sources=sources)}
    fields.update(_standard_fields(row))
    notices = _read_only_warnings(record)
    as_of = row_time(row, options.row_time_column, notices, "company")
    # A group call's own email (and, with phone in lookup_fields, phone) is its user's.
    members = _GROUP_CALL_MEMBER_COLUMNS[options.phone_lookup] if _group_call(row) else ()
    own = {
        name: value
        for name, value in record.items()
        if name not in _CONSUMED
        and name not in members
        and name != options.row_time_column
        and not row.is_pipeline(name)
        and not (row.enabled and name == CONTEXT)
    }
    attributes, types, warnings = custom_attributes(own, schema, "company")
    user_ids, user_emails, user_phones = _members(row, options)
    return CompanyPlan(
        fields=fields,
        custom_attributes=attributes,
        attribute_types=types,
        tags=_tags(row),
        user_ids=user_ids,
        warnings=warnings + notices,
        user_emails=user_emails,
        as_of=None if as_of is None else as_of[1],
        user_phones=user_phones,
    )


def _standard_fields(row: Row) -> dict[str, Any]:
    """Each standard field from the record's own columns, else, for the fields RudderStack's
    v2 destination fills a group call's company from, from the call's `context.traits`
    (nested or `context_traits_*`). Not `name`, `website` nor `created_at` there: in a
    call's traits they are the user's name, site and sign-up, not the company's."""
    fields: dict[str, Any] = {}
    for sources, convert in (
        (_TEXT_SOURCES, to_text),
        (_INT_SOURCES, to_int),
        ({"remote_created_at": _CREATED_SOURCES}, to_unix_seconds),
    ):
        for name, names in sources.items():
            item = first_item(row.record, *names)
            if item is None and name in _FROM_TRAITS:
                item = row.trait_item(
                    _REMOTE_CREATED_TRAITS if name == "remote_created_at" else names
                )
            if item is not None:
                fields[name] = convert(item[1], item[0])
    return fields


def _tags(row: Row) -> list[str]:
    """The record's `tags`, else those of its `context.traits`: a list, or in a warehouse
    column the JSON text of one (`'["vip"]'`, how warehouses keep a flattened array)."""
    own = row.record.get("tags")
    if own is not None:
        return tag_names(own)
    item = row.trait_item(("tags",))
    if item is None:
        return []
    value = item[1]
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.lstrip().startswith("[") else [value]
        except ValueError:
            raise MappingError(
                f"{item[0]} is not a JSON list of tag names ({describe_value(value)})",
                "bad_tags",
            ) from None
    return tag_names(value)


def _read_only_warnings(record: Mapping[str, Any]) -> list[MappingWarning]:
    return [
        MappingWarning(
            f"read_only:company:{name}",
            f"Company records carry {name}, which is read-only in Intercom (it counts a "
            "company's users and sessions and keeps its segments itself): not sent",
        )
        for name in READ_ONLY_TRAITS
        if record.get(name) is not None
    ]


def _group_call(row: Row) -> bool:
    """Whether the record is a group call (a row of a warehouse `groups` table, or a message
    with a nested `context`), whose `email` and `phone` are its user's, not the company's.
    In a plain companies table they stay company attributes."""
    return row.message or (row.enabled and isinstance(row.record.get(CONTEXT), Mapping))


def _members(row: Row, options: ContactOptions) -> tuple[list[str], list[str], list[str]]:
    """The contacts to attach, by external id, by email and by phone.

    When the record names no one by id or email of its own, the call's user stands in: a
    group call's own `email`, else its anonymous id (with `anonymous_id_as_user_id`), else
    the email of its `context.traits`, else (with phone in `lookup_fields`) the group
    call's own `phone` or its `context.traits.phone`.
    """
    record = row.record
    user_ids = _user_ids(record)
    emails = _user_emails(record)
    if user_ids or emails:
        return user_ids, emails, []
    group_call = _group_call(row)
    own_email = first_value(record, "email") if group_call else None
    if own_email is not None and (emails := _emails([own_email], "email")):
        return [], emails, []
    anonymous = first_value(record, *ANONYMOUS_ID_SOURCES)
    if options.anonymous_id_as_user_id and anonymous is not None:
        return [to_text(anonymous, "anonymous_id")], [], []
    trait = row.trait_item(("email",))
    if trait is not None:
        return [], _emails([trait[1]], trait[0]), []
    if options.phone_lookup and group_call:
        phone = first_item(record, "phone") or row.trait_item(("phone",))
        text = to_text(phone[1], phone[0]).strip() if phone is not None else ""
        if text:
            return [], [], [text]
    return [], [], []


def _user_ids(record: Mapping[str, Any]) -> list[str]:
    """External ids of the contacts to attach: `user_id`/`userId`, then a `user_ids` list."""
    listed = record.get("user_ids")
    if listed is not None and not isinstance(listed, list):
        raise MappingError(
            f"user_ids must be a list of contact external ids, not {describe_value(listed)}",
            "bad_user_ids",
        )
    single = first_value(record, *_USER_ID_SOURCES)
    candidates = ([single] if single is not None else []) + (listed or [])
    ids = (to_text(value, "user_ids") for value in candidates if value is not None)
    return list(dict.fromkeys(value for value in ids if value))


def _user_emails(record: Mapping[str, Any]) -> list[str]:
    """Emails of the contacts to attach: `user_email`, then a `user_emails` list."""
    listed = record.get("user_emails")
    if listed is not None and not isinstance(listed, list):
        raise MappingError(
            f"user_emails must be a list of contact emails, not {describe_value(listed)}",
            "bad_user_emails",
        )
    single = first_value(record, "user_email")
    emails = _emails([single] if single is not None else [], "user_email")
    merged: dict[str, str] = {}
    for email in emails + _emails(listed or [], "user_emails"):
        merged.setdefault(email.lower(), email)
    return list(merged.values())


def _emails(values: list[Any], field_name: str) -> list[str]:
    """Stripped emails, blanks skipped, each first spelling of an address kept once (Intercom
    compares emails case-insensitively); a value that is no email is refused."""
    seen: dict[str, str] = {}
    for value in values:
        if value is None:
            continue
        email = to_text(value, field_name).strip()
        if not email:
            continue
        if "@" not in email:
            raise MappingError(
                f"{field_name} holds {describe_value(value)}, which is not an email address: "
                "list the members' emails there (their external ids go in user_ids)",
                "bad_user_emails",
            )
        seen.setdefault(email.lower(), email)
    return list(seen.values())
