"""A user's company given as columns of its row (`company_id`, `company_name`, ...): Segment's
and RudderStack's flattened `traits.company`, or a plain table's `company_id`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from target_intercom import keys
from target_intercom.errors import MappingError
from target_intercom.mapping import (
    CompanyLink,
    CompanyPlan,
    ContactOptions,
    ContactPlan,
    RecordSchema,
    map_contact,
)

EMPTY = RecordSchema({})
JAN_1_2024 = 1704067200
STR = {"type": ["string", "null"]}


def contact(record: dict[str, Any], schema: RecordSchema = EMPTY, **options: Any) -> ContactPlan:
    return map_contact(record, schema, ContactOptions(**options))


def the_company(plan: ContactPlan) -> CompanyPlan:
    """The one company the row links, with what it sends of it."""
    [link] = plan.companies
    assert link.company is not None
    return link.company


def test_flattened_company_traits_are_the_company_not_contact_attributes() -> None:
    # An identify's traits.company {id, name, plan, employees, monthlySpend, createdAt}, as
    # Segment writes it into its identifies and users tables (snake_case, joined by `_`).
    record = {
        "id": "u1",
        "plan": "free",
        "company_id": "c1",
        "company_name": "Acme",
        "company_plan": "pro",
        "company_industry": "Software",
        "company_website": "https://acme.example",
        "company_employees": 30,
        "company_monthly_spend": 12.4,
        "company_created_at": "2024-01-01T00:00:00Z",
        "company_region": "emea",
    }
    plan = contact(record)
    assert plan.custom_attributes == {"plan": "free"}
    [link] = plan.companies
    assert (link.company_id, link.remove) == ("c1", False)
    assert link.company is not None
    assert link.company.payload() == {
        "company_id": "c1",
        "name": "Acme",
        "plan": "pro",
        "industry": "Software",
        "website": "https://acme.example",
        "size": 30,
        "monthly_spend": 12,
        "remote_created_at": JAN_1_2024,
        "custom_attributes": {"region": "emea"},
    }
    assert keys.shared(keys.company("c1")) in plan.ordering_keys


def test_a_plain_company_id_links_the_bare_company() -> None:
    # tap-postgres: users.company_id, a foreign key, an integer.
    plan = contact({"id": "u1", "email": "u1@x.io", "company_id": 7})
    assert plan.companies == [CompanyLink(company_id="7", remove=False, company=None)]
    assert plan.custom_attributes == {}


def test_a_row_of_a_segment_table_reads_its_company_columns_too() -> None:
    record = {
        "id": "m1",
        "user_id": "u1",
        "received_at": "2024-01-01T00:00:00Z",
        "context_library_name": "analytics.js",
        "company_id": "c1",
        "company_name": "Acme",
    }
    plan = contact(record)
    assert plan.external_id == "u1"
    assert the_company(plan).payload() == {"company_id": "c1", "name": "Acme"}
    assert plan.custom_attributes == {}


def test_the_columns_are_typed_by_their_own_schema() -> None:
    schema = RecordSchema(
        {
            "properties": {
                "company_id": STR,
                "company_founded": {"type": ["string", "null"], "format": "date-time"},
                "company_seats": {"type": ["integer", "null"]},
            }
        }
    )
    record = {
        "id": "u1",
        "company_id": "c1",
        "company_founded": "2024-01-01",
        "company_seats": Decimal("3.0"),
    }
    company = the_company(contact(record, schema))
    assert company.custom_attributes == {"founded": JAN_1_2024, "seats": 3}
    assert company.attribute_types == {"founded": "date", "seats": "integer"}


@pytest.mark.parametrize(
    "record",
    [
        {"company_id": None, "company_name": None},
        {"company_id": "", "company_plan": ""},
        {"company_name": None},
    ],
)
def test_a_user_without_a_company_links_none_and_sends_no_column(record: dict[str, Any]) -> None:
    # The schema has the column: a tap may leave a NULL out of the record.
    schema = RecordSchema({"properties": {"company_id": STR, "company_name": STR}})
    plan = contact({"id": "u1", **record}, schema)
    assert plan.companies == []
    assert plan.custom_attributes == {}


def test_company_columns_without_a_company_id_are_a_record_error() -> None:
    with pytest.raises(MappingError) as caught:
        contact({"id": "u1", "company_id": None, "company_name": "Acme", "company_plan": None})
    assert caught.value.code == "no_company_id"
    assert str(caught.value) == (
        "User record has company_name but no company_id: a company is known by its id; fill "
        "company_id, or set company_columns to false to send these columns as contact "
        "attributes"
    )


def test_without_a_company_id_column_company_columns_stay_contact_attributes() -> None:
    plan = contact({"id": "u1", "company_name": "Acme"})
    assert plan.companies == []
    assert plan.custom_attributes == {"company_name": "Acme"}


def test_company_columns_false_keeps_them_contact_attributes() -> None:
    record = {"id": "u1", "company_id": "c1", "company_name": "Acme", "company_role": "CTO"}
    plan = contact(record, company_columns=False)
    assert plan.companies == []
    assert plan.custom_attributes == {
        "company_id": "c1",
        "company_name": "Acme",
        "company_role": "CTO",
    }


def test_a_nested_object_for_the_same_company_is_merged_its_values_winning() -> None:
    schema = RecordSchema(
        {
            "properties": {
                "company_id": STR,
                "company_seats": {"type": ["integer", "null"]},
                "company": {"type": "object", "properties": {"id": STR, "name": STR}},
            }
        }
    )
    record = {
        "id": "u1",
        "company": {"id": "c1", "name": "Acme Inc", "plan": None},
        "company_id": "c1",
        "company_name": "Acme",
        "company_plan": "pro",
        "company_seats": Decimal("3"),
    }
    company = the_company(contact(record, schema))
    assert company.payload() == {
        "company_id": "c1",
        "name": "Acme Inc",
        "plan": "pro",
        "custom_attributes": {"seats": 3},
    }
    assert company.attribute_types == {"seats": "integer"}


def test_a_nested_remove_of_the_same_company_wins() -> None:
    record = {"id": "u1", "companies": [{"id": "c1", "remove": True}], "company_id": "c1"}
    plan = contact(record)
    assert plan.companies == [CompanyLink(company_id="c1", remove=True, company=None)]
    assert plan.custom_attributes == {}


def test_a_nested_object_for_another_company_is_a_second_link_before_the_columns() -> None:
    record = {"id": "u1", "company": {"id": "c2", "name": "Two"}, "company_id": "c1"}
    links = contact(record).companies
    assert [link.company_id for link in links] == ["c2", "c1"]
    assert links[1].company is None
