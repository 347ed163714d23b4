"""Users records to Intercom contacts, and the shared mapping helpers they rest on."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from target_intercom.errors import MappingError
from target_intercom.mapping import (
    CompanyLink,
    ContactOptions,
    MappingWarning,
    RecordSchema,
    custom_attributes,
    first_value,
    flatten,
    map_contact,
    to_unix_seconds,
)

EMPTY = RecordSchema({})
JAN_1_2024 = 1704067200


def contact(record: dict[str, Any], schema: RecordSchema = EMPTY, **options: Any):
    return map_contact(record, schema, ContactOptions(**options))


# --- to_unix_seconds ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        JAN_1_2024,
        JAN_1_2024 * 1000,
        JAN_1_2024 * 1000 + 999,
        Decimal("1704067200.75"),
        Decimal("1704067200.5"),
        Decimal("1704067200000"),
        str(JAN_1_2024),
        str(JAN_1_2024 * 1000),
        " 1704067200 ",
        "1704067200.9",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.999Z",
        "2024-01-01T02:00:00+02:00",
        "2023-12-31T19:00:00-05:00",
        "2024-01-01 00:00:00",
        "2024-01-01T00:00:00",
        "2024-01-01",
        datetime(2024, 1, 1),
        datetime(2024, 1, 1, tzinfo=timezone.utc),
        datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
        date(2024, 1, 1),
    ],
)
def test_to_unix_seconds_accepts_every_date_form(value: Any) -> None:
    assert to_unix_seconds(value, "signed_up_at") == JAN_1_2024


def test_to_unix_seconds_small_numbers_are_seconds_and_large_ones_milliseconds() -> None:
    assert to_unix_seconds(99_999_999_999, "f") == 99_999_999_999
    assert to_unix_seconds(100_000_000_000, "f") == 100_000_000
    assert to_unix_seconds(-100_000_000_000, "f") == -100_000_000
    assert to_unix_seconds(0, "f") == 0


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "Jan 5 2024",
        "2024-13-01",
        "10:00",
        "P1D",
        "",
        True,
        False,
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        time(10, 0),
        [JAN_1_2024],
        {"at": JAN_1_2024},
    ],
)
def test_to_unix_seconds_refuses_what_is_not_a_date(value: Any) -> None:
    with pytest.raises(MappingError) as caught:
        to_unix_seconds(value, "signed_up_at")
    assert caught.value.code == "bad_date"
    assert caught.value.message.startswith("signed_up_at is not a date")
    assert "\n" not in caught.value.message


# --- first_value, flatten -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"a": 1, "b": 2}, 1),
        ({"a": None, "b": 2}, 2),
        ({"a": "", "b": 2}, 2),
        ({"a": 0, "b": 2}, 0),
        ({"a": False, "b": 2}, False),
        ({"b": 2}, 2),
        ({"a": None, "b": ""}, None),
        ({}, None),
    ],
)
def test_first_value_skips_none_and_empty_only(record: dict[str, Any], expected: Any) -> None:
    assert first_value(record, "a", "b") == expected


def test_flatten_joins_nested_names_with_underscores() -> None:
    nested = {"address": {"city": "X", "geo": {"lat": 1}}, "plan": "pro", "empty": {}}
    assert flatten(nested) == {"address_city": "X", "address_geo_lat": 1, "plan": "pro"}
    assert flatten({"city": "X"}, "address") == {"address_city": "X"}


def test_flatten_keeps_objects_the_caller_keeps_whole() -> None:
    nested = {"a": {"link": {"url": "u"}, "b": {"c": 1}}}
    kept = flatten(nested, keep=lambda obj: "url" in obj)
    assert kept == {"a_link": {"url": "u"}, "a_b_c": 1}


# --- RecordSchema -------------------------------------------------------------------------

SCHEMA = {
    "properties": {
        "plain": {"type": "string"},
        "nullable": {"type": ["null", "integer"]},
        "number": {"type": "number"},
        "flag": {"type": ["boolean", "null"]},
        "born": {"type": ["string", "null"], "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "clock": {"type": "string", "format": "time"},
        "any_of": {"anyOf": [{"type": "null"}, {"type": "string", "format": "date-time"}]},
        "one_of": {"oneOf": [{"type": "null"}, {"type": "number"}]},
        "interests": {"type": "array", "items": {"type": "string"}},
        "address": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "geo": {"properties": {"lat": {"type": "number"}}},
            },
        },
        "free_form": {"type": "object"},
        "untyped": {},
        "only_null": {"type": "null"},
        "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
        "company": {
            "type": ["object", "null"],
            "properties": {"founded": {"type": "string", "format": "date"}},
        },
        "companies": {
            "type": "array",
            "items": {"anyOf": [{"type": "object", "properties": {"seats": {"type": "integer"}}}]},
        },
    }
}


def test_record_schema_types_follow_the_json_schema() -> None:
    assert RecordSchema(SCHEMA).types == {
        "plain": "string",
        "nullable": "integer",
        "number": "float",
        "flag": "boolean",
        "born": "date",
        "day": "date",
        "clock": "string",
        "any_of": "date",
        "one_of": "float",
        "interests": "string",
        "address_city": "string",
        "address_geo_lat": "float",
        "company_founded": "date",
        "companies": "string",
    }


def test_record_schema_child_of_object_array_of_objects_and_unknown() -> None:
    schema = RecordSchema(SCHEMA)
    assert schema.child("company").types == {"founded": "date"}
    assert schema.child("companies").types == {"seats": "integer"}
    assert schema.child("plain").types == {}
    assert schema.child("missing").types == {}
    assert schema.child("company") is schema.child("company")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("plain", 5, "string"),
        ("unknown", True, "boolean"),
        ("unknown", 5, "integer"),
        ("unknown", 1.5, "float"),
        ("unknown", Decimal("1.5"), "float"),
        ("unknown", datetime(2024, 1, 1), "date"),
        ("unknown", date(2024, 1, 1), "date"),
        ("unknown", "text", "string"),
        ("unknown", time(1, 2), "string"),
    ],
)
def test_record_schema_data_type_prefers_schema_then_infers(
    name: str, value: Any, expected: str
) -> None:
    assert RecordSchema(SCHEMA).data_type(name, value) == expected


# --- custom_attributes --------------------------------------------------------------------


def test_custom_attributes_flatten_and_drop_none_and_sdc() -> None:
    values = {
        "plan": "pro",
        "gone": None,
        "address": {"city": "Dublin", "zip": None},
        "_sdc_extracted_at": "2024-01-01T00:00:00Z",
    }
    assert custom_attributes(values, EMPTY, "contact") == (
        {"plan": "pro", "address_city": "Dublin"},
        {"plan": "string", "address_city": "string"},
        [],
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["a", "b", "c"], "a, b, c"),
        ([1, Decimal("2.5"), True, None], "1, 2.5, true"),
        ([], ""),
        ([{"k": 1}, {"k": Decimal("2.5")}], '[{"k":1},{"k":2.5}]'),
        ([["a"], "b"], '[["a"],"b"]'),
        ([{"at": date(2024, 1, 1)}], '[{"at":"2024-01-01"}]'),
    ],
)
def test_custom_attributes_send_lists_as_text_with_one_warning(value: Any, expected: str) -> None:
    attributes, types, warnings = custom_attributes({"interests": value}, EMPTY, "contact")
    assert attributes == {"interests": expected}
    assert types == {"interests": "string"}
    assert [warning.key for warning in warnings] == ["list:contact:interests"]


def test_custom_attributes_cut_long_strings_with_a_warning() -> None:
    attributes, _, warnings = custom_attributes(
        {"bio": "x" * 300, "ok": "y" * 255}, EMPTY, "company"
    )
    assert attributes == {"bio": "x" * 255, "ok": "y" * 255}
    assert [warning.key for warning in warnings] == ["truncated:company:bio"]


def test_custom_attributes_take_their_type_from_the_schema() -> None:
    schema = RecordSchema(SCHEMA)
    values = {
        "plain": 5,
        "nullable": Decimal("3.0"),
        "number": 2,
        "born": "2024-01-01T00:00:00Z",
        "day": date(2024, 1, 1),
        "any_of": datetime(2024, 1, 1),
        "address": {"geo": {"lat": Decimal("53.3")}},
        "flag": False,
        "unknown_decimal": Decimal("1.25"),
        "unknown_int": 7,
        "clock": time(10, 30),
    }
    attributes, types, warnings = custom_attributes(values, schema, "contact")
    assert types == {
        "plain": "string",
        "nullable": "integer",
        "number": "float",
        "born": "date",
        "day": "date",
        "any_of": "date",
        "address_geo_lat": "float",
        "flag": "boolean",
        "unknown_decimal": "float",
        "unknown_int": "integer",
        "clock": "string",
    }
    assert attributes == {
        "plain": "5",
        "nullable": 3,
        "number": 2.0,
        "born": JAN_1_2024,
        "day": JAN_1_2024,
        "any_of": JAN_1_2024,
        "address_geo_lat": 53.3,
        "flag": False,
        "unknown_decimal": 1.25,
        "unknown_int": 7,
        "clock": "10:30:00",
    }
    assert isinstance(attributes["number"], float)
    assert warnings == []


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"born": "not a date"}, "bad_date"),
        ({"number": float("nan")}, "bad_number"),
    ],
)
def test_custom_attributes_refuse_values_of_the_wrong_type(
    values: dict[str, Any], code: str
) -> None:
    with pytest.raises(MappingError) as caught:
        custom_attributes(values, RecordSchema(SCHEMA), "contact")
    assert caught.value.code == code


# --- contact identity ---------------------------------------------------------------------


@pytest.mark.parametrize("source", ["external_id", "user_id", "userId", "id"])
def test_external_id_aliases(source: str) -> None:
    plan = contact({source: "u1"})
    assert plan.fields["external_id"] == "u1"
    assert plan.external_id == "u1"
    assert plan.custom_attributes == {}


@pytest.mark.parametrize(
    ("value", "expected"), [(42, "42"), (Decimal("42.0"), "42"), (4.5, "4.5"), ("007", "007")]
)
def test_external_id_numbers_become_strings(value: Any, expected: str) -> None:
    assert contact({"user_id": value}).external_id == expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"external_id": "a", "user_id": "b", "userId": "c", "id": "d"}, "a"),
        ({"external_id": "", "user_id": "b", "id": "d"}, "b"),
        ({"external_id": None, "user_id": None, "userId": "c", "id": "d"}, "c"),
        ({"userId": "", "id": 9}, "9"),
    ],
)
def test_external_id_first_non_empty_alias_wins_and_all_are_consumed(
    record: dict[str, Any], expected: str
) -> None:
    plan = contact(record)
    assert plan.external_id == expected
    assert plan.custom_attributes == {}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Ann@Example.com", "Ann@Example.com"), ("  ann@example.com\n", "ann@example.com")],
)
def test_email_is_stripped_and_keeps_its_case(raw: str, expected: str) -> None:
    plan = contact({"email": raw})
    assert plan.email == expected
    assert plan.external_id is None
    assert plan.payload() == {"email": expected, "role": "user"}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"id": "u1", "email": "Ann@X.com"}, ("contact:external_id:u1", "contact:email:ann@x.com")),
        ({"id": "u1"}, ("contact:external_id:u1",)),
        ({"email": "Ann@X.com"}, ("contact:email:ann@x.com",)),
    ],
)
def test_identities(record: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert contact(record).identities() == expected


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"name": "Ann"},
        {"email": "   "},
        {"external_id": "", "email": None},
        {"anonymous_id": "anon-1"},
        {"anonymousId": "anon-1", "phone": "+1"},
    ],
)
def test_no_identity_is_a_record_error(record: dict[str, Any]) -> None:
    with pytest.raises(MappingError) as caught:
        contact(record)
    assert caught.value.code == "no_identity"
    assert caught.value.message == (
        "User record has neither an external_id nor an email (looked in external_id, "
        "user_id, userId, id, context.traits.user_id, context.traits.userId, "
        "context.traits.id, email, context.traits.email): add one of those fields"
    )
    with pytest.raises(MappingError) as caught:
        contact(record, warehouse_columns=False)
    assert caught.value.message == (
        "User record has neither an external_id nor an email "
        "(looked in external_id, user_id, userId, id, email): add one of those fields"
    )


def test_no_identity_mentions_anonymous_id_when_it_counts() -> None:
    with pytest.raises(MappingError) as caught:
        contact({"name": "Ann"}, anonymous_id_as_user_id=True)
    assert "anonymous_id, anonymousId, email" in caught.value.message


@pytest.mark.parametrize("source", ["anonymous_id", "anonymousId"])
def test_anonymous_id_is_consumed_and_not_sent_by_default(source: str) -> None:
    plan = contact({source: "anon-1", "email": "a@x.com"})
    assert "external_id" not in plan.fields
    assert plan.custom_attributes == {}


@pytest.mark.parametrize("source", ["anonymous_id", "anonymousId"])
def test_anonymous_id_becomes_external_id_when_enabled(source: str) -> None:
    assert contact({source: "anon-1"}, anonymous_id_as_user_id=True).external_id == "anon-1"


@pytest.mark.parametrize("user_source", ["external_id", "user_id", "userId", "id"])
def test_a_real_user_id_beats_anonymous_id(user_source: str) -> None:
    record = {"anonymous_id": "anon-1", user_source: "u1"}
    plan = contact(record, anonymous_id_as_user_id=True)
    assert plan.external_id == "u1"
    assert plan.custom_attributes == {}


# --- standard fields ----------------------------------------------------------------------


def test_all_standard_fields_typed_for_intercom() -> None:
    record = {
        "id": 1,
        "email": "a@x.com",
        "phone": 353871234567,
        "name": "Ann Lee",
        "avatar": "https://x/a.png",
        "role": "user",
        "owner_id": 321,
        "signed_up_at": "2024-01-01T00:00:00Z",
        "last_seen_at": JAN_1_2024 * 1000,
        "unsubscribed_from_emails": True,
    }
    assert contact(record).payload() == {
        "external_id": "1",
        "email": "a@x.com",
        "role": "user",
        "name": "Ann Lee",
        "phone": "353871234567",
        "avatar": "https://x/a.png",
        "owner_id": "321",
        "signed_up_at": JAN_1_2024,
        "last_seen_at": JAN_1_2024,
        "unsubscribed_from_emails": True,
    }


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"name": "Ann Lee"}, "Ann Lee"),
        ({"name": "Ann Lee", "first_name": "X", "last_name": "Y"}, "Ann Lee"),
        ({"name": "", "first_name": "Ann", "last_name": "Lee"}, "Ann Lee"),
        ({"firstName": "Ann", "lastName": "Lee"}, "Ann Lee"),
        ({"first_name": "Ann", "firstName": "X", "last_name": "Lee", "lastName": "Y"}, "Ann Lee"),
        ({"first_name": "Ann"}, "Ann"),
        ({"firstName": "Ann"}, "Ann"),
        ({"last_name": "Lee"}, "Lee"),
        ({"lastName": "Lee"}, "Lee"),
        ({"first_name": " Ann ", "last_name": None}, "Ann"),
        ({"first_name": None, "lastName": ""}, None),
    ],
)
def test_name_and_its_parts(record: dict[str, Any], expected: str | None) -> None:
    plan = contact({"id": "u1", **record})
    assert plan.fields.get("name") == expected
    assert plan.custom_attributes == {}


@pytest.mark.parametrize(
    ("field", "source", "value", "expected"),
    [
        ("phone", "phone", "+353 87", "+353 87"),
        ("avatar", "avatar", "https://x/a.png", "https://x/a.png"),
        ("owner_id", "owner_id", 321, "321"),
        ("owner_id", "ownerId", "321", "321"),
        ("signed_up_at", "signed_up_at", "2024-01-01", JAN_1_2024),
        ("signed_up_at", "created_at", JAN_1_2024, JAN_1_2024),
        ("signed_up_at", "createdAt", datetime(2024, 1, 1), JAN_1_2024),
        ("last_seen_at", "last_seen_at", str(JAN_1_2024 * 1000), JAN_1_2024),
        ("last_seen_at", "lastSeenAt", "2024-01-01T00:00:00Z", JAN_1_2024),
        ("unsubscribed_from_emails", "unsubscribed_from_emails", True, True),
        ("unsubscribed_from_emails", "unsubscribedFromEmails", False, False),
    ],
)
def test_standard_field_aliases(field: str, source: str, value: Any, expected: Any) -> None:
    plan = contact({"id": "u1", source: value})
    assert plan.fields[field] == expected
    assert plan.custom_attributes == {}


@pytest.mark.parametrize(
    ("record", "field", "expected"),
    [
        ({"owner_id": "1", "ownerId": "2"}, "owner_id", "1"),
        ({"owner_id": None, "ownerId": "2"}, "owner_id", "2"),
        ({"signed_up_at": 1, "created_at": 2, "createdAt": 3}, "signed_up_at", 1),
        ({"signed_up_at": "", "created_at": 2, "createdAt": 3}, "signed_up_at", 2),
        ({"created_at": None, "createdAt": 3}, "signed_up_at", 3),
        ({"last_seen_at": 1, "lastSeenAt": 2}, "last_seen_at", 1),
        (
            {"unsubscribed_from_emails": None, "unsubscribedFromEmails": True},
            "unsubscribed_from_emails",
            True,
        ),
    ],
)
def test_standard_field_first_alias_wins_and_all_are_consumed(
    record: dict[str, Any], field: str, expected: Any
) -> None:
    plan = contact({"id": "u1", **record})
    assert plan.fields[field] == expected
    assert plan.custom_attributes == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("true", True),
        ("False", False),
        (" yes ", True),
        ("no", False),
        ("1", True),
        ("0", False),
    ],
)
def test_unsubscribed_from_emails_is_a_boolean(value: Any, expected: bool) -> None:
    plan = contact({"id": "u1", "unsubscribed_from_emails": value})
    assert plan.fields["unsubscribed_from_emails"] is expected


@pytest.mark.parametrize("value", ["maybe", 2, 1.0, ["true"]])
def test_unsubscribed_from_emails_refuses_non_booleans(value: Any) -> None:
    with pytest.raises(MappingError) as caught:
        contact({"id": "u1", "unsubscribedFromEmails": value})
    assert caught.value.code == "bad_boolean"
    assert caught.value.message.startswith("unsubscribedFromEmails is not a boolean")


def test_bad_date_in_a_standard_field_names_the_source_field() -> None:
    with pytest.raises(MappingError) as caught:
        contact({"id": "u1", "createdAt": "last tuesday"})
    assert caught.value.code == "bad_date"
    assert caught.value.message.startswith("createdAt is not a date")


def test_a_standard_field_holding_an_object_is_refused() -> None:
    with pytest.raises(MappingError) as caught:
        contact({"id": "u1", "name": {"first": "Ann"}})
    assert caught.value.code == "bad_value"


@pytest.mark.parametrize(
    ("record_role", "setting", "expected"),
    [
        (None, "user", "user"),
        (None, "lead", "lead"),
        ("", "lead", "lead"),
        ("lead", "user", "lead"),
        ("user", "lead", "user"),
        (" Lead ", "user", "lead"),
    ],
)
def test_role_record_wins_when_valid(record_role: str | None, setting: str, expected: str) -> None:
    plan = contact({"email": "a@x.io", "role": record_role}, role=setting)
    assert plan.fields["role"] == expected
    assert plan.warnings == []
    assert plan.custom_attributes == {}


def test_an_unknown_role_falls_back_to_the_setting_with_a_warning() -> None:
    plan = contact({"email": "a@x.io", "role": "admin"}, role="lead")
    assert plan.fields["role"] == "lead"
    assert [warning.key for warning in plan.warnings] == ["role:contact:admin"]


# --- custom attributes, context, tags, deletes --------------------------------------------


def test_other_fields_become_custom_attributes() -> None:
    record = {
        "id": "u1",
        "plan": "pro",
        "seats": 3,
        "address": {"city": "Dublin", "country": None},
        "interests": ["a", "b"],
        "bio": "z" * 256,
        "_sdc_extracted_at": "2024-01-01",
        "_sdc_deleted_at": None,
    }
    plan = contact(record)
    assert plan.custom_attributes == {
        "plan": "pro",
        "seats": 3,
        "address_city": "Dublin",
        "interests": "a, b",
        "bio": "z" * 255,
    }
    assert plan.payload()["custom_attributes"] == plan.custom_attributes
    assert [warning.key for warning in plan.warnings] == [
        "list:contact:interests",
        "truncated:contact:bio",
    ]


def test_payload_has_no_custom_attributes_key_when_there_are_none() -> None:
    assert "custom_attributes" not in contact({"id": "u1"}).payload()


def test_custom_attribute_types_come_from_the_stream_schema() -> None:
    schema = RecordSchema(
        {
            "properties": {
                "trial_ends": {"type": "string", "format": "date-time"},
                "zip": {"type": "string"},
            }
        }
    )
    plan = contact({"id": "u1", "trial_ends": "2024-01-01T00:00:00Z", "zip": 2}, schema)
    assert plan.custom_attributes == {"trial_ends": JAN_1_2024, "zip": "2"}


CONTEXT = {
    "device": {"type": "ios", "manufacturer": "Apple", "model": "iPhone15,2", "id": "d1"},
    "os": {"name": "iOS", "version": "17.1"},
    "app": {"name": "Shop", "version": "2.3.0", "build": "99"},
    "ip": "10.0.0.1",
}


def test_context_is_never_sent_by_default() -> None:
    assert contact({"id": "u1", "context": CONTEXT}).custom_attributes == {}


def test_context_fields_become_attributes_with_include_context() -> None:
    plan = contact({"id": "u1", "context": CONTEXT}, include_context=True)
    assert plan.custom_attributes == {
        "device_type": "ios",
        "device_manufacturer": "Apple",
        "device_model": "iPhone15,2",
        "os_name": "iOS",
        "os_version": "17.1",
        "app_name": "Shop",
        "app_version": "2.3.0",
    }


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (None, {}),
        ("not an object", {}),
        ({"os": {"name": "Android", "version": None}}, {"os_name": "Android"}),
        ({"device": "ios", "app": {"version": ""}}, {}),
    ],
)
def test_partial_context(context: Any, expected: dict[str, Any]) -> None:
    plan = contact({"id": "u1", "context": context}, include_context=True)
    assert plan.custom_attributes == expected


def test_a_records_own_attribute_beats_the_context_one() -> None:
    record = {"id": "u1", "device_type": "android", "context": CONTEXT}
    plan = contact(record, include_context=True)
    assert plan.custom_attributes["device_type"] == "android"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (None, []),
        ([], []),
        (["vip", "beta"], ["vip", "beta"]),
        (["vip", "beta", "vip"], ["vip", "beta"]),
        (["", " vip ", None, "  "], ["vip"]),
        ([2024, "2024"], ["2024"]),
    ],
)
def test_tags(tags: Any, expected: list[str]) -> None:
    plan = contact({"id": "u1", "tags": tags})
    assert plan.tags == expected
    assert plan.custom_attributes == {}


@pytest.mark.parametrize("tags", ["vip", {"name": "vip"}, [{"name": "vip"}], [["vip"]]])
def test_tags_that_are_not_a_list_of_names_are_refused(tags: Any) -> None:
    with pytest.raises(MappingError) as caught:
        contact({"id": "u1", "tags": tags})
    assert caught.value.code == "bad_tags"


@pytest.mark.parametrize(
    ("deleted_at", "expected"),
    [
        (None, False),
        ("", False),
        ("2024-01-01T00:00:00Z", True),
        (datetime(2024, 1, 1), True),
    ],
)
def test_deleted_follows_sdc_deleted_at(deleted_at: Any, expected: bool) -> None:
    plan = contact({"id": "u1", "_sdc_deleted_at": deleted_at})
    assert plan.deleted is expected
    assert plan.custom_attributes == {}


def test_deleted_record_without_the_column() -> None:
    assert contact({"id": "u1"}).deleted is False


# --- companies on a user record -----------------------------------------------------------


@pytest.mark.parametrize("id_field", ["id", "company_id", "group_id", "groupId"])
def test_company_object_accepts_id_aliases(id_field: str) -> None:
    plan = contact({"id": "u1", "company": {id_field: "c1", "name": "Acme"}})
    [link] = plan.companies
    assert link.company_id == "c1"
    assert link.remove is False
    assert link.company is not None
    assert link.company.payload() == {"company_id": "c1", "name": "Acme"}
    assert plan.custom_attributes == {}


def test_companies_list_keeps_order_and_the_first_of_duplicates() -> None:
    record = {
        "id": "u1",
        "company": {"company_id": 7, "name": "Seven"},
        "companies": [{"id": "c2"}, {"id": "7", "name": "Other"}, {"id": "c3", "plan": "pro"}],
    }
    links = contact(record).companies
    assert [link.company_id for link in links] == ["7", "c2", "c3"]
    assert links[0].company is not None
    assert links[0].company.fields["name"] == "Seven"
    assert links[1].company is None
    assert links[2].company is not None
    assert links[2].company.payload() == {"company_id": "c3", "plan": "pro"}


@pytest.mark.parametrize("remove", [True, "true", 1])
def test_remove_true_detaches_without_an_upsert(remove: Any) -> None:
    plan = contact({"id": "u1", "companies": [{"id": "c1", "name": "Acme", "remove": remove}]})
    assert plan.companies == [CompanyLink(company_id="c1", remove=True, company=None)]


@pytest.mark.parametrize("remove", [False, "false", 0, None])
def test_remove_false_attaches_and_remove_is_not_an_attribute(remove: Any) -> None:
    [link] = contact(
        {"id": "u1", "company": {"id": "c1", "plan": "pro", "remove": remove}}
    ).companies
    assert link.remove is False
    assert link.company is not None
    assert link.company.payload() == {"company_id": "c1", "plan": "pro"}


def test_company_carrying_only_its_id_needs_no_upsert() -> None:
    plan = contact({"id": "u1", "company": {"id": "c1", "name": None}})
    assert plan.companies == [CompanyLink(company_id="c1", remove=False, company=None)]


def test_company_with_tags_or_attributes_is_upserted() -> None:
    record = {"id": "u1", "companies": [{"id": "c1", "tags": ["vip"]}, {"id": "c2", "tier": 1}]}
    links = contact(record).companies
    assert links[0].company is not None
    assert links[0].company.tags == ["vip"]
    assert links[1].company is not None
    assert links[1].company.custom_attributes == {"tier": 1}


def test_company_attributes_use_the_company_part_of_the_schema() -> None:
    schema = RecordSchema(SCHEMA)
    record = {"id": "u1", "company": {"id": "c1", "founded": "2024-01-01"}}
    [link] = contact(record, schema).companies
    assert link.company is not None
    assert link.company.custom_attributes == {"founded": JAN_1_2024}
    record = {"id": "u1", "companies": [{"id": "c1", "seats": Decimal("3.0")}]}
    [link] = contact(record, schema).companies
    assert link.company is not None
    assert link.company.custom_attributes == {"seats": 3}


def test_company_warnings_reach_the_contact_plan() -> None:
    plan = contact({"id": "u1", "company": {"id": "c1", "regions": ["eu", "us"]}})
    assert [warning.key for warning in plan.warnings] == ["list:company:regions"]


@pytest.mark.parametrize(
    "record",
    [
        {"company": None},
        {"company": {}},
        {"company": {"id": None, "name": None}},
        {"companies": []},
        {"companies": None},
        {"companies": [None, {"id": ""}]},
    ],
)
def test_absent_companies_are_skipped(record: dict[str, Any]) -> None:
    assert contact({"id": "u1", **record}).companies == []


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ({"company": {"name": "Acme"}}, "no_company_id"),
        ({"companies": [{"id": "c1"}, {"name": "Acme", "remove": True}]}, "no_company_id"),
        ({"company": 42}, "bad_company"),
        ({"company": ["Acme"]}, "bad_company"),
        ({"companies": {"id": "c1"}}, "bad_company"),
        ({"companies": ["c1"]}, "bad_company"),
        ({"company": {"id": "c1", "remove": "perhaps"}}, "bad_boolean"),
        ({"company": {"id": "c1", "size": "big"}}, "bad_number"),
    ],
)
def test_bad_company_objects_are_record_errors(record: dict[str, Any], code: str) -> None:
    with pytest.raises(MappingError) as caught:
        contact({"id": "u1", **record})
    assert caught.value.code == code
    assert "\n" not in caught.value.message


def test_company_without_id_error_says_where_it_is() -> None:
    with pytest.raises(MappingError) as caught:
        contact({"id": "u1", "company": {"name": "Acme"}})
    assert caught.value.message == (
        "A company object on this user record has no company id "
        "(looked in company_id, group_id, groupId, id): add one of those fields"
    )


def test_error_messages_never_carry_the_record() -> None:
    secret = "s3cret-value-that-must-not-leak"
    with pytest.raises(MappingError) as caught:
        contact({"name": secret, "note": secret})
    assert secret not in caught.value.message


def test_warnings_are_mapping_warnings() -> None:
    plan = contact({"id": "u1", "bio": "z" * 300})
    assert plan.warnings == [
        MappingWarning(
            "truncated:contact:bio",
            "Contact attribute 'bio' is longer than 255 characters and was cut to fit Intercom",
        )
    ]


def test_mapping_does_not_change_the_record() -> None:
    record = {"id": "u1", "company": {"id": "c1", "remove": True}, "tags": ["a", "a"]}
    snapshot = repr(record)
    contact(record)
    assert repr(record) == snapshot


def test_column_names_intercom_refuses_are_renamed_with_a_warning():
    schema = RecordSchema({"properties": {}})
    plan = map_contact(
        {"id": "u1", "plan.name": "pro", "agent:type": "x", "agent_type": "y", "€price": 3},
        schema,
        ContactOptions(),
    )
    assert plan.custom_attributes == {"plan_name": "pro", "agent_type": "x", "€price": 3}
    messages = [w.message for w in plan.warnings]
    assert any("'plan.name' is sent as contact attribute 'plan_name'" in m for m in messages)
    assert any("Column 'agent_type' is not sent" in m for m in messages)


def test_spaces_in_column_names_are_kept():
    # Intercom's 2.16 examples name attributes "Mithril Shirt" and "The One Ring"
    # (facts page, "Custom attributes"): a space is no reason to rename a column.
    plan = map_contact(
        {"id": "u1", "Mithril Shirt": "yes"}, RecordSchema({"properties": {}}), ContactOptions()
    )
    assert plan.custom_attributes == {"Mithril Shirt": "yes"}
    assert plan.warnings == []
