"""The companies a user record names: each one to attach the contact to, or detach it from.

A user's row often carries its company (Segment's and RudderStack's identify traits allow
`company` as an object or as just its name; `companies` lists several), and a contact can be
attached only to a company Intercom has. So each company named with more than its id comes
back as a complete company plan, typed by the schema of the object it came from, for the
writer to upsert before it attaches the contact.

A row may also carry its company as columns of its own: Segment and RudderStack flatten an
identify's `traits.company` into the `identifies` and `users` tables as `company_id`,
`company_name`, `company_plan`, ..., and a plain table's `company_id` names the user's
company. Such a company is read as the nested object would be (see `_column_company`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from target_intercom.errors import MappingError
from target_intercom.mapping.companies import (
    COMPANY_ID_SOURCES,
    CompanyPlan,
    company_id_from_name,
    company_id_of,
    map_company,
)
from target_intercom.mapping.fields import first_value
from target_intercom.mapping.messages import describe_value
from target_intercom.mapping.options import ContactOptions
from target_intercom.mapping.schema import RecordSchema
from target_intercom.mapping.values import to_bool, to_text

_NESTED_COMPANY = "A company object on this user record"
_COLUMN_PREFIX = "company_"
_COLUMN_ID = "company_id"


@dataclass
class CompanyLink:
    """A company named on a user record: upsert it (when `company` is set), then attach the
    contact to it, or detach the contact when `remove` is true."""

    company_id: str
    remove: bool
    company: CompanyPlan | None


def company_links(
    record: Mapping[str, Any], schema: RecordSchema, options: ContactOptions, used: set[str]
) -> list[CompanyLink]:
    """Links from `company`, then `companies`, then the `company_*` columns, whose names go
    into `used` (they are never contact attributes). A company named twice keeps its first
    link; but the columns' company is merged into a nested object naming the same
    company_id, whose values win (one company, two spellings of it)."""
    objects = _company_objects(record, schema)
    columns = _column_company(record, schema, options, used)
    if columns is not None:
        objects = _with_column_company(objects, *columns)
    links: dict[str, CompanyLink] = {}
    for obj, company_schema in objects:
        link = _company_link(obj, company_schema, options)
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
    for obj in companies or []:
        if isinstance(obj, str) and obj.strip():
            # Unlike `company`, a list item given as text could be an id as well as a name.
            raise MappingError(
                f"companies holds {describe_value(obj)}, not a company object: send "
                '[{"company_id": ..., "name": ...}], or one company\'s name as text in company',
                "bad_company",
            )
        objects.append((obj, schema.child("companies")))
    return [(obj, obj_schema) for obj, obj_schema in objects if not _blank(obj)]


def _column_company(
    record: Mapping[str, Any], schema: RecordSchema, options: ContactOptions, used: set[str]
) -> tuple[dict[str, Any], RecordSchema] | None:
    """The company of a table with a `company_id` column (in the record, or in its stream's
    schema, since a NULL may be left out): `company_id` and every other `company_<field>`
    column, as the object `{"company_id": ..., "<field>": ...}`, typed by those columns'
    schema. None when `company_columns` is off or the table has no such column, at the cost
    of two look-ups; also when all of them are empty in this row (a user with no company).
    """
    if not options.company_columns or not (_COLUMN_ID in record or schema.declares(_COLUMN_ID)):
        return None
    names = [name for name in record if name.startswith(_COLUMN_PREFIX)]
    used.update(names)
    body = {name[len(_COLUMN_PREFIX) :]: record[name] for name in names if name != _COLUMN_ID}
    company_id = record.get(_COLUMN_ID)
    if company_id not in (None, ""):
        return {**body, "company_id": company_id}, schema.prefixed(_COLUMN_PREFIX)
    filled = [name for name in names if record[name] not in (None, "")]
    if not filled:
        return None
    raise MappingError(
        f"User record has {', '.join(filled)} but no company_id: a company is known by its "
        "id; fill company_id, or set company_columns to false to send these columns as "
        "contact attributes",
        "no_company_id",
    )


def _with_column_company(
    objects: list[tuple[Any, RecordSchema]], columns: dict[str, Any], schema: RecordSchema
) -> list[tuple[Any, RecordSchema]]:
    """The nested object naming the columns' company, with the columns' values under its
    own non-empty ones; else the objects and the columns' company last."""
    column_id = to_text(columns["company_id"], "company_id")
    for index, (obj, obj_schema) in enumerate(objects):
        if isinstance(obj, Mapping) and _id_text(obj) == column_id:
            own = {key: value for key, value in obj.items() if value not in (None, "")}
            merged = [*objects]
            merged[index] = ({**columns, **own}, obj_schema.over(schema))
            return merged
    return [*objects, (columns, schema)]


def _id_text(obj: Mapping[str, Any]) -> str | None:
    value = first_value(obj, *COMPANY_ID_SOURCES)
    return None if value is None else to_text(value, "company_id")


def _blank(obj: Any) -> bool:
    """An absent company: null, blank text, or an object of nulls (an outer join's leftovers)."""
    if isinstance(obj, Mapping):
        return all(value in (None, "") for value in obj.values())
    if isinstance(obj, str):
        return not obj.strip()
    return obj is None


def _company_link(obj: Any, schema: RecordSchema, options: ContactOptions) -> CompanyLink:
    if isinstance(obj, str):
        return _named_company_link(obj.strip(), options)
    if not isinstance(obj, Mapping):
        raise MappingError(
            f"{_NESTED_COMPANY} is {describe_value(obj)}, not an object: send "
            '{"company_id": ..., "name": ...}, or the company\'s name as text in company, '
            "or rename the field with stream_maps",
            "bad_company",
        )
    body = {key: value for key, value in obj.items() if key != "remove"}
    company_id = company_id_of(body, _NESTED_COMPANY)
    if obj.get("remove") is not None and to_bool(obj["remove"], "company.remove"):
        return CompanyLink(company_id=company_id, remove=True, company=None)
    plan = map_company(body, schema, options)
    bare = (
        plan.payload() == {"company_id": company_id}
        and not plan.tags
        and not plan.user_ids
        and not plan.user_emails
    )
    return CompanyLink(company_id=company_id, remove=False, company=None if bare else plan)


def _named_company_link(name: str, options: ContactOptions) -> CompanyLink:
    """`company: "Acme"`, as Segment's and RudderStack's identify traits allow: the company
    is that name, its company_id derived from it (companies.company_id_from_name)."""
    company_id = company_id_from_name(name)
    plan = map_company({"company_id": company_id, "name": name}, RecordSchema({}), options)
    return CompanyLink(company_id=company_id, remove=False, company=plan)
