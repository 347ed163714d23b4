"""Companies records to Intercom companies (`POST /companies`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from target_intercom.errors import MappingError
from target_intercom.mapping import RecordSchema, map_company

EMPTY = RecordSchema({})
JAN_1_2024 = 1704067200


def company(record: dict[str, Any], schema: RecordSchema = EMPTY):
    return map_company(record, schema)


@pytest.mark.parametrize("source", ["company_id", "group_id", "groupId", "id"])
def test_company_id_aliases(source: str) -> None:
    plan = company({source: "c1"})
    assert plan.company_id == "c1"
    assert plan.payload() == {"company_id": "c1"}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"company_id": "a", "group_id": "b", "groupId": "c", "id": "d"}, "a"),
        ({"company_id": "", "group_id": "b", "id": "d"}, "b"),
        ({"company_id": None, "groupId": "c", "id": "d"}, "c"),
        ({"id": 42}, "42"),
        ({"id": Decimal("42.0")}, "42"),
    ],
)
def test_company_id_first_alias_wins_as_a_string_and_all_are_consumed(
    record: dict[str, Any], expected: str
) -> None:
    plan = company(record)
    assert plan.fields["company_id"] == expected
    assert plan.custom_attributes == {}


@pytest.mark.parametrize("record", [{}, {"name": "Acme"}, {"id": None, "company_id": ""}])
def test_no_company_id_is_a_record_error(record: dict[str, Any]) -> None:
    with pytest.raises(MappingError) as caught:
        company(record)
    assert caught.value.code == "no_company_id"
    assert caught.value.message == (
        "Company record has no company id (looked in company_id, group_id, groupId, id): "
        "add one of those fields"
    )


def test_all_standard_fields_typed_for_intercom() -> None:
    record = {
        "company_id": "c1",
        "name": "Acme",
        "website": "https://acme.test",
        "plan": "pro",
        "size": "120",
        "industry": "Anvils",
        "monthly_spend": Decimal("155.98"),
        "remote_created_at": "2024-01-01T00:00:00Z",
    }
    assert company(record).payload() == {
        "company_id": "c1",
        "name": "Acme",
        "website": "https://acme.test",
        "plan": "pro",
        "industry": "Anvils",
        "size": 120,
        "monthly_spend": 156,
        "remote_created_at": JAN_1_2024,
    }


@pytest.mark.parametrize(
    ("field", "source", "value", "expected"),
    [
        ("name", "name", "Acme", "Acme"),
        ("name", "name", 3, "3"),
        ("website", "website", "https://a.test", "https://a.test"),
        ("plan", "plan", "pro", "pro"),
        ("industry", "industry", "Anvils", "Anvils"),
        ("size", "size", 10, 10),
        ("size", "employees", "10", 10),
        ("monthly_spend", "monthly_spend", 99, 99),
        ("monthly_spend", "monthlySpend", Decimal("99.5"), 100),
        ("remote_created_at", "remote_created_at", JAN_1_2024, JAN_1_2024),
        ("remote_created_at", "remoteCreatedAt", JAN_1_2024 * 1000, JAN_1_2024),
        ("remote_created_at", "created_at", "2024-01-01", JAN_1_2024),
        ("remote_created_at", "createdAt", datetime(2024, 1, 1), JAN_1_2024),
    ],
)
def test_standard_field_aliases(field: str, source: str, value: Any, expected: Any) -> None:
    plan = company({"id": "c1", source: value})
    assert plan.fields[field] == expected
    assert plan.custom_attributes == {}


@pytest.mark.parametrize(
    ("record", "field", "expected"),
    [
        ({"size": 1, "employees": 2}, "size", 1),
        ({"size": None, "employees": 2}, "size", 2),
        ({"monthly_spend": 1, "monthlySpend": 2}, "monthly_spend", 1),
        ({"monthly_spend": "", "monthlySpend": 2}, "monthly_spend", 2),
        (
            {"remote_created_at": 1, "remoteCreatedAt": 2, "created_at": 3, "createdAt": 4},
            "remote_created_at",
            1,
        ),
        ({"remoteCreatedAt": 2, "created_at": 3, "createdAt": 4}, "remote_created_at", 2),
        ({"created_at": None, "createdAt": 4}, "remote_created_at", 4),
    ],
)
def test_standard_field_first_alias_wins_and_all_are_consumed(
    record: dict[str, Any], field: str, expected: Any
) -> None:
    plan = company({"id": "c1", **record})
    assert plan.fields[field] == expected
    assert plan.custom_attributes == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("155.98"), 156),
        (Decimal("155.49"), 155),
        (Decimal("0.5"), 1),
        ("1000", 1000),
        (" 12.5 ", 13),
        (2**31 - 1, 2**31 - 1),
    ],
)
def test_monthly_spend_is_a_rounded_integer(value: Any, expected: int) -> None:
    assert company({"id": "c1", "monthly_spend": value}).fields["monthly_spend"] == expected


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("monthly_spend", "lots"),
        ("monthly_spend", 2**31),
        ("monthlySpend", True),
        ("size", float("nan")),
        ("employees", [10]),
        ("size", {"n": 1}),
    ],
)
def test_numbers_that_intercom_cannot_take_are_refused(source: str, value: Any) -> None:
    with pytest.raises(MappingError) as caught:
        company({"id": "c1", source: value})
    assert caught.value.code == "bad_number"
    assert caught.value.message.startswith(source)


def test_bad_remote_created_at_names_its_source() -> None:
    with pytest.raises(MappingError) as caught:
        company({"id": "c1", "createdAt": "soon"})
    assert caught.value.code == "bad_date"
    assert caught.value.message.startswith("createdAt is not a date")


def test_other_fields_become_company_custom_attributes() -> None:
    record = {
        "id": "c1",
        "tier": "gold",
        "seats": 10,
        "hq": {"city": "Dublin", "country": None},
        "regions": ["eu", "us"],
        "about": "a" * 300,
        "renewal": date(2024, 1, 1),
        "churned": None,
        "_sdc_batched_at": "2024-01-01",
    }
    plan = company(record)
    assert plan.custom_attributes == {
        "tier": "gold",
        "seats": 10,
        "hq_city": "Dublin",
        "regions": "eu, us",
        "about": "a" * 255,
        "renewal": JAN_1_2024,
    }
    assert plan.payload()["custom_attributes"] == plan.custom_attributes
    assert [warning.key for warning in plan.warnings] == [
        "list:company:regions",
        "truncated:company:about",
    ]


def test_custom_attribute_types_come_from_the_stream_schema() -> None:
    schema = RecordSchema(
        {
            "properties": {
                "renewal": {"type": ["null", "string"], "format": "date"},
                "score": {"type": "number"},
                "code": {"type": "string"},
            }
        }
    )
    plan = company({"id": "c1", "renewal": "2024-01-01", "score": 3, "code": 12}, schema)
    assert plan.custom_attributes == {"renewal": JAN_1_2024, "score": 3.0, "code": "12"}


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (None, []),
        (["vip", "", "vip", " beta "], ["vip", "beta"]),
    ],
)
def test_tags(tags: Any, expected: list[str]) -> None:
    plan = company({"id": "c1", "tags": tags})
    assert plan.tags == expected
    assert plan.custom_attributes == {}


def test_tags_that_are_not_a_list_are_refused() -> None:
    with pytest.raises(MappingError) as caught:
        company({"id": "c1", "tags": "vip"})
    assert caught.value.code == "bad_tags"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({}, []),
        ({"user_id": "u1"}, ["u1"]),
        ({"userId": 7}, ["7"]),
        ({"user_id": "u1", "userId": "u2"}, ["u1"]),
        ({"user_id": None, "userId": "u2"}, ["u2"]),
        ({"user_ids": ["u1", 2, None, "", "u1"]}, ["u1", "2"]),
        ({"user_id": "u0", "user_ids": ["u1", "u0"]}, ["u0", "u1"]),
        ({"user_ids": None}, []),
    ],
)
def test_user_ids_to_attach(record: dict[str, Any], expected: list[str]) -> None:
    plan = company({"id": "c1", **record})
    assert plan.user_ids == expected
    assert plan.custom_attributes == {}
    assert "user_id" not in plan.payload()


@pytest.mark.parametrize(
    ("user_ids", "code"),
    [("u1", "bad_user_ids"), ({"id": "u1"}, "bad_user_ids"), ([{"id": "u1"}], "bad_value")],
)
def test_user_ids_that_are_not_a_list_of_ids_are_refused(user_ids: Any, code: str) -> None:
    with pytest.raises(MappingError) as caught:
        company({"id": "c1", "user_ids": user_ids})
    assert caught.value.code == code


def test_payload_has_no_custom_attributes_key_when_there_are_none() -> None:
    assert company({"id": "c1", "name": "Acme"}).payload() == {"company_id": "c1", "name": "Acme"}


def test_payload_is_a_copy() -> None:
    plan = company({"id": "c1", "tier": "gold"})
    plan.payload()["custom_attributes"]["tier"] = "changed"
    assert plan.custom_attributes == {"tier": "gold"}


# --- RudderStack v2's group call: context.traits, and traits Intercom computes -----------


def test_standard_fields_fall_back_to_context_traits_nested_and_flattened() -> None:
    nested = company(
        {"company_id": "c1", "plan": "own", "context": {"traits": {"plan": "p", "employees": 5}}}
    )
    assert (nested.fields["plan"], nested.fields["size"]) == ("own", 5)
    flat = company(
        {
            "id": "msg-1",
            "group_id": "c1",
            "received_at": "2024-01-01T00:00:00Z",
            "context_traits_monthlyspend": 12,
            "context_traits_tags": ["vip"],
        }
    )
    assert flat.fields == {"company_id": "c1", "monthly_spend": 12}
    assert flat.tags == ["vip"]
    assert flat.custom_attributes == {}


@pytest.mark.parametrize(
    "name",
    [
        "userCount",
        "user_count",
        "usercount",
        "sessionCount",
        "session_count",
        "sessioncount",
        "segments",
    ],
)
def test_read_only_group_traits_are_dropped_with_a_notice(name: str) -> None:
    plan = company({"company_id": "c1", name: 3})
    assert plan.custom_attributes == {}
    assert [w.key for w in plan.warnings] == [f"read_only:company:{name}"]
    assert "read-only in Intercom" in plan.warnings[0].message


def test_context_tags_may_be_a_warehouses_json_text_and_created_at_is_the_users() -> None:
    row = {
        "id": "msg-1",
        "group_id": "c1",
        "received_at": "2024-01-01T00:00:00Z",
        "context_traits_tags": '["vip", "emea"]',
        # The user's sign-up in the call's traits: not when the company was made.
        "context_traits_createdat": "2020-01-01T00:00:00Z",
    }
    plan = company(row)
    assert plan.tags == ["vip", "emea"]
    assert "remote_created_at" not in plan.fields
    assert company({**row, "context_traits_tags": "vip"}).tags == ["vip"]
    with pytest.raises(MappingError) as caught:
        company({**row, "context_traits_tags": "[vip"})
    assert caught.value.code == "bad_tags"
