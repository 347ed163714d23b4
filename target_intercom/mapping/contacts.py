"""User records (the `users` stream) to Intercom contacts.

The mapping decides everything about a record that needs no call to Intercom: the standard
fields, the custom attributes and their types, the tags, the companies to attach or detach
(each a complete company plan typed by its own schema), whether the record is a soft delete,
and the ordering keys. Finding the contact and sending the calls is the writers' job.
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
    to_bool,
    to_text,
    to_unix_seconds,
)
from target_intercom.mapping.companies import CompanyPlan, company_id_of, map_company

ROLES = ("user", "lead")
EXTERNAL_ID_SOURCES = ("external_id", "user_id", "userId", "id")
_ANONYMOUS_ID_SOURCES = ("anonymous_id", "anonymousId")
_FIRST_NAME_SOURCES = ("first_name", "firstName")
_LAST_NAME_SOURCES = ("last_name", "lastName")
_TEXT_SOURCES = {"phone": ("phone",), "avatar": ("avatar",), "owner_id": ("owner_id", "ownerId")}
_DATE_SOURCES = {
    "signed_up_at": ("signed_up_at", "created_at", "createdAt"),
    "last_seen_at": ("last_seen_at", "lastSeenAt"),
}
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
    + _ANONYMOUS_ID_SOURCES
    + _FIRST_NAME_SOURCES
    + _LAST_NAME_SOURCES
    + _UNSUBSCRIBED_SOURCES
    + ("email", "name", "role", "context", "tags", "company", "companies")
    + tuple(name for sources in _TEXT_SOURCES.values() for name in sources)
    + tuple(name for sources in _DATE_SOURCES.values() for name in sources)
)
_NESTED_COMPANY = "A company object on this user record"


@dataclass(frozen=True)
class ContactOptions:
    """The target settings that change how a user record maps."""

    role: str = "user"
    anonymous_id_as_user_id: bool = False
    include_context: bool = False


@dataclass
class CompanyLink:
    """A company named on a user record: upsert it (when `company` is set), then attach the
    contact to it, or detach the contact when `remove` is true."""

    company_id: str
    remove: bool
    company: CompanyPlan | None


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

    @property
    def external_id(self) -> str | None:
        return self.fields.get("external_id")

    @property
    def email(self) -> str | None:
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
        """The contact and every company it links: records about any of them stay in order."""
        return self.identities() + tuple(keys.company(c.company_id) for c in self.companies)


def map_contact(
    record: Mapping[str, Any], schema: RecordSchema, options: ContactOptions
) -> ContactPlan:
    """Map one user record; raises `MappingError` when it cannot be sent at all."""
    warnings: list[MappingWarning] = []
    fields = _identity(record, options)
    fields["role"] = _role(record, options, warnings)
    fields.update(_profile(record))
    attributes, types, attribute_warnings = custom_attributes(
        _attribute_values(record, options), schema, "contact"
    )
    companies = _company_links(record, schema)
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
    )


def _identity(record: Mapping[str, Any], options: ContactOptions) -> dict[str, Any]:
    sources: tuple[str, ...] = EXTERNAL_ID_SOURCES
    if options.anonymous_id_as_user_id:
        sources = (*EXTERNAL_ID_SOURCES, *_ANONYMOUS_ID_SOURCES)
    fields: dict[str, Any] = {}
    external_id = first_value(record, *sources)
    if external_id is not None:
        fields["external_id"] = to_text(external_id, "external_id")
    email = first_value(record, "email")
    email = to_text(email, "email").strip() if email is not None else ""
    if email:
        fields["email"] = email
    if not fields:
        raise MappingError(
            "User record has neither an external_id nor an email "
            f"(looked in {', '.join((*sources, 'email'))}): add one of those fields",
            "no_identity",
        )
    return fields


def _role(
    record: Mapping[str, Any], options: ContactOptions, warnings: list[MappingWarning]
) -> str:
    """The record's own role when it is one Intercom knows, else the `contact_role` setting."""
    own = record.get("role")
    if own in (None, ""):
        return options.role
    role = to_text(own, "role").strip().lower()
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


def _profile(record: Mapping[str, Any]) -> dict[str, Any]:
    name = _name(record)
    return (
        ({"name": name} if name else {})
        | pick_fields(record, _TEXT_SOURCES, to_text)
        | pick_fields(record, _DATE_SOURCES, to_unix_seconds)
        | pick_fields(record, {"unsubscribed_from_emails": _UNSUBSCRIBED_SOURCES}, to_bool)
    )


def _name(record: Mapping[str, Any]) -> str:
    """`name`, else first and last name joined by a space (either alone is fine)."""
    name = first_value(record, "name")
    if name is not None:
        return to_text(name, "name")
    parts = (first_value(record, *sources) for sources in (_FIRST_NAME_SOURCES, _LAST_NAME_SOURCES))
    return " ".join(to_text(part, "name").strip() for part in parts if part is not None).strip()


def _attribute_values(record: Mapping[str, Any], options: ContactOptions) -> dict[str, Any]:
    """The fields that become custom attributes; the record's own win over context ones."""
    own = {name: value for name, value in record.items() if name not in _CONSUMED}
    if not options.include_context:
        return own
    return {**_context_attributes(record.get("context")), **own}


def _context_attributes(context: Any) -> dict[str, Any]:
    if not isinstance(context, Mapping):
        return {}
    attributes = {}
    for attribute, (section, key) in _CONTEXT_ATTRIBUTES.items():
        part = context.get(section)
        if isinstance(part, Mapping) and part.get(key) not in (None, ""):
            attributes[attribute] = part[key]
    return attributes


def _company_links(record: Mapping[str, Any], schema: RecordSchema) -> list[CompanyLink]:
    """Links from `company` then `companies`; a company named twice keeps its first link."""
    links: dict[str, CompanyLink] = {}
    for obj, company_schema in _company_objects(record, schema):
        link = _company_link(obj, company_schema)
        links.setdefault(link.company_id, link)
    return list(links.values())


def _company_objects(
    record: Mapping[str, Any], schema: RecordSchema
) -> list[tuple[Any, RecordSchema]]:
    objects: list[tuple[Any, RecordSchema]] = []
    if record.get("company") is not None:
        objects.append((record["company"], schema.child("company")))
    companies = record.get("companies")
    if companies is not None and not isinstance(companies, list):
        raise MappingError(
            f"companies must be a list of company objects, not {describe_value(companies)}",
            "bad_company",
        )
    objects += [(obj, schema.child("companies")) for obj in companies or []]
    return [(obj, obj_schema) for obj, obj_schema in objects if not _blank(obj)]


def _blank(obj: Any) -> bool:
    """An absent company: null, or an object of nulls (what an outer join leaves)."""
    if isinstance(obj, Mapping):
        return all(value in (None, "") for value in obj.values())
    return obj is None


def _company_link(obj: Any, schema: RecordSchema) -> CompanyLink:
    if not isinstance(obj, Mapping):
        raise MappingError(
            f"{_NESTED_COMPANY} is {describe_value(obj)}, not an object: send "
            '{"company_id": ..., "name": ...} or rename the field with stream_maps',
            "bad_company",
        )
    body = {key: value for key, value in obj.items() if key != "remove"}
    company_id = company_id_of(body, _NESTED_COMPANY)
    if obj.get("remove") is not None and to_bool(obj["remove"], "company.remove"):
        return CompanyLink(company_id=company_id, remove=True, company=None)
    plan = map_company(body, schema)
    bare = plan.payload() == {"company_id": company_id} and not plan.tags and not plan.user_ids
    return CompanyLink(company_id=company_id, remove=False, company=None if bare else plan)
