"""Company records (the `companies` stream, and company objects on user records) to Intercom.

`POST /companies` creates or updates a company keyed by `company_id`; the plan also carries
what the writer does around that call: the tags to apply and the contacts to attach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_intercom import keys
from target_intercom.errors import MappingError
from target_intercom.mapping.common import (
    MappingWarning,
    RecordSchema,
    custom_attributes,
    describe_value,
    first_value,
    pick_fields,
    tag_names,
    to_int,
    to_text,
    to_unix_seconds,
)

COMPANY_ID_SOURCES = ("company_id", "group_id", "groupId", "id")
_TEXT_SOURCES = {
    "name": ("name",),
    "website": ("website",),
    "plan": ("plan",),
    "industry": ("industry",),
}
_INT_SOURCES = {"size": ("size", "employees"), "monthly_spend": ("monthly_spend", "monthlySpend")}
_CREATED_SOURCES = ("remote_created_at", "remoteCreatedAt", "created_at", "createdAt")
_USER_ID_SOURCES = ("user_id", "userId")
_CONSUMED = frozenset(
    COMPANY_ID_SOURCES
    + _CREATED_SOURCES
    + _USER_ID_SOURCES
    + ("user_ids", "tags")
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

    @property
    def company_id(self) -> str:
        return str(self.fields["company_id"])

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        """The company, and the contacts it attaches (their upserts must land first)."""
        return (
            keys.company(self.company_id),
            *(keys.contact_by_external_id(user_id) for user_id in self.user_ids),
        )

    def payload(self) -> dict[str, Any]:
        """The body for `POST /companies`."""
        body = dict(self.fields)
        if self.custom_attributes:
            body["custom_attributes"] = dict(self.custom_attributes)
        return body


def company_id_of(record: Mapping[str, Any], where: str = "Company record") -> str:
    """The record's company id, as the string Intercom wants; `where` names it in the error."""
    value = first_value(record, *COMPANY_ID_SOURCES)
    if value is None:
        raise MappingError(
            f"{where} has no company id (looked in {', '.join(COMPANY_ID_SOURCES)}): "
            "add one of those fields",
            "no_company_id",
        )
    return to_text(value, "company_id")


def map_company(record: Mapping[str, Any], schema: RecordSchema) -> CompanyPlan:
    """Map one company record; every standard field's aliases are consumed, the rest are
    custom attributes (model `company`)."""
    fields: dict[str, Any] = {"company_id": company_id_of(record)}
    fields.update(_standard_fields(record))
    attributes, types, warnings = custom_attributes(
        {name: value for name, value in record.items() if name not in _CONSUMED}, schema, "company"
    )
    return CompanyPlan(
        fields=fields,
        custom_attributes=attributes,
        attribute_types=types,
        tags=tag_names(record.get("tags")),
        user_ids=_user_ids(record),
        warnings=warnings,
    )


def _standard_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    return (
        pick_fields(record, _TEXT_SOURCES, to_text)
        | pick_fields(record, _INT_SOURCES, to_int)
        | pick_fields(record, {"remote_created_at": _CREATED_SOURCES}, to_unix_seconds)
    )


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
