"""Events records to Intercom data events (`POST /events`)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from target_intercom.errors import MappingError
from target_intercom.mapping import ContactOptions, RecordSchema, map_event

EMPTY = RecordSchema({})
JAN_1_2024 = 1704067200
BASE = {"event": "Order Completed", "timestamp": JAN_1_2024, "user_id": "u1"}


def event(record: dict[str, Any], schema: RecordSchema = EMPTY, **options: Any):
    return map_event(record, schema, ContactOptions(**options))


def metadata(properties: dict[str, Any], schema: RecordSchema = EMPTY) -> dict[str, Any]:
    return event({**BASE, "properties": properties}, schema).payload.get("metadata", {})


def warning_keys(record: dict[str, Any]) -> list[str]:
    return [warning.key for warning in event(record).warnings]


# --- event name, time, contact ------------------------------------------------------------


def test_minimal_event_payload() -> None:
    plan = event(BASE)
    assert plan.payload == {
        "event_name": "Order Completed",
        "created_at": JAN_1_2024,
        "user_id": "u1",
    }
    assert plan.warnings == []


@pytest.mark.parametrize("source", ["event_name", "event", "name"])
def test_event_name_aliases(source: str) -> None:
    plan = event({"created_at": JAN_1_2024, "user_id": "u1", source: "signed-up"})
    assert plan.payload["event_name"] == "signed-up"
    assert "metadata" not in plan.payload


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"event_name": "a", "event": "b", "name": "c"}, "a"),
        ({"event_name": "", "event": "b", "name": "c"}, "b"),
        ({"event_name": None, "event": None, "name": "c"}, "c"),
    ],
)
def test_event_name_first_alias_wins_and_all_are_consumed(
    record: dict[str, Any], expected: str
) -> None:
    plan = event({"created_at": JAN_1_2024, "user_id": "u1", **record})
    assert plan.payload["event_name"] == expected
    assert "metadata" not in plan.payload


@pytest.mark.parametrize("record", [{}, {"event": ""}, {"event_name": None, "name": ""}])
def test_no_event_name_is_a_record_error(record: dict[str, Any]) -> None:
    with pytest.raises(MappingError) as caught:
        event({"created_at": JAN_1_2024, "user_id": "u1", **record})
    assert caught.value.code == "no_event_name"
    assert "event_name, event, name" in caught.value.message


@pytest.mark.parametrize(
    "source", ["created_at", "timestamp", "original_timestamp", "originalTimestamp"]
)
@pytest.mark.parametrize(
    "value",
    [
        JAN_1_2024,
        JAN_1_2024 * 1000,
        str(JAN_1_2024),
        "2024-01-01T00:00:00Z",
        "2024-01-01T01:00:00+01:00",
        datetime(2024, 1, 1, tzinfo=timezone.utc),
        Decimal("1704067200.9"),
    ],
)
def test_created_at_aliases_and_forms(source: str, value: Any) -> None:
    plan = event({"event": "e", "user_id": "u1", source: value})
    assert plan.payload["created_at"] == JAN_1_2024
    assert "metadata" not in plan.payload


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"created_at": 1, "timestamp": 2, "original_timestamp": 3, "originalTimestamp": 4}, 1),
        ({"created_at": "", "timestamp": 2, "original_timestamp": 3}, 2),
        ({"timestamp": None, "original_timestamp": 3, "originalTimestamp": 4}, 3),
        ({"originalTimestamp": 4}, 4),
    ],
)
def test_created_at_first_alias_wins_and_all_are_consumed(
    record: dict[str, Any], expected: int
) -> None:
    # `original_timestamp` makes a row a warehouse row (see the warehouse tests): off here.
    plan = event({"event": "e", "user_id": "u1", **record}, warehouse_columns=False)
    assert plan.payload["created_at"] == expected
    assert "metadata" not in plan.payload


@pytest.mark.parametrize("record", [{}, {"created_at": None}, {"timestamp": ""}])
def test_missing_created_at_is_a_record_error_never_now(record: dict[str, Any]) -> None:
    with pytest.raises(MappingError) as caught:
        event({"event": "e", "user_id": "u1", **record})
    assert caught.value.code == "no_created_at"
    assert "created_at, timestamp, original_timestamp, originalTimestamp" in caught.value.message


def test_bad_created_at_names_its_source() -> None:
    with pytest.raises(MappingError) as caught:
        event({"event": "e", "user_id": "u1", "originalTimestamp": "10:00"})
    assert caught.value.code == "bad_date"
    assert caught.value.message.startswith("originalTimestamp is not a date")


@pytest.mark.parametrize("source", ["user_id", "userId", "external_id"])
def test_contact_id_aliases_are_sent_as_user_id(source: str) -> None:
    plan = event({"event": "e", "created_at": JAN_1_2024, source: "u1"})
    assert plan.payload["user_id"] == "u1"
    assert "metadata" not in plan.payload
    assert plan.ordering_keys == ("contact:external_id:u1",)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"user_id": "a", "userId": "b", "external_id": "c", "email": "x@y.z"}, {"user_id": "a"}),
        ({"user_id": "", "userId": "b", "external_id": "c"}, {"user_id": "b"}),
        ({"userId": None, "external_id": 42}, {"user_id": "42"}),
        ({"user_id": None, "email": " Ann@X.com "}, {"email": "Ann@X.com"}),
    ],
)
def test_user_id_beats_email_and_only_one_is_sent(
    record: dict[str, Any], expected: dict[str, str]
) -> None:
    plan = event({"event": "e", "created_at": JAN_1_2024, **record})
    contact = {key: plan.payload[key] for key in ("user_id", "email") if key in plan.payload}
    assert contact == expected
    assert "metadata" not in plan.payload


def test_identities_of_an_event_sent_by_email_are_lowercased() -> None:
    plan = event({"event": "e", "created_at": JAN_1_2024, "email": "Ann@X.com"})
    assert plan.ordering_keys == ("contact:email:ann@x.com",)


@pytest.mark.parametrize("record", [{}, {"email": "  "}, {"user_id": "", "anonymous_id": "a1"}])
def test_no_contact_is_a_record_error(record: dict[str, Any]) -> None:
    with pytest.raises(MappingError) as caught:
        event({"event": "e", "created_at": JAN_1_2024, **record})
    assert caught.value.code == "no_identity"
    assert caught.value.message == (
        "Event record names no contact (looked in user_id, userId, external_id, "
        "context.traits.user_id, context.traits.userId, context.traits.id, email, "
        "context.traits.email, intercom_contact_id, properties.id): add the contact's "
        "external id, email or Intercom id; an anonymous id counts only with "
        "anonymous_id_as_user_id"
    )
    with pytest.raises(MappingError) as caught:
        event({"event": "e", "created_at": JAN_1_2024, **record}, warehouse_columns=False)
    assert "(looked in user_id, userId, external_id, email, intercom_contact_id)" in (
        caught.value.message
    )


# --- metadata source ----------------------------------------------------------------------


def test_metadata_comes_from_properties_and_ignores_the_rest() -> None:
    record = {**BASE, "properties": {"order_id": "o1"}, "channel": "web"}
    assert event(record).payload["metadata"] == {"order_id": "o1"}


def test_metadata_comes_from_remaining_fields_without_properties() -> None:
    record = {
        **BASE,
        "event_name": "x",
        "name": "y",
        "created_at": 1,
        "original_timestamp": 2,
        "originalTimestamp": 3,
        "userId": "u2",
        "external_id": "u3",
        "email": "a@x.com",
        "context": {"ip": "1.2.3.4"},
        "anonymous_id": "a1",
        "anonymousId": "a1",
        "properties": None,
        "_sdc_received_at": "2024-01-01",
        "order_id": "o1",
    }
    # `original_timestamp` makes a row a warehouse row (see the warehouse tests): off here.
    assert event(record, warehouse_columns=False).payload["metadata"] == {"order_id": "o1"}


@pytest.mark.parametrize("properties", [{}, {"a": None, "b": {"c": None}}])
def test_empty_metadata_is_left_out(properties: dict[str, Any]) -> None:
    assert "metadata" not in event({**BASE, "properties": properties}).payload


@pytest.mark.parametrize("properties", ["order=1", ["a"], 5])
def test_properties_that_are_not_an_object_are_refused(properties: Any) -> None:
    with pytest.raises(MappingError) as caught:
        event({**BASE, "properties": properties})
    assert caught.value.code == "bad_properties"


# --- metadata values ----------------------------------------------------------------------


def test_scalars_pass_with_json_types() -> None:
    assert metadata(
        {"sku": "A-1", "qty": 2, "weight": Decimal("1.5"), "gift": True, "rush": False}
    ) == {"sku": "A-1", "qty": 2, "weight": 1.5, "gift": "true", "rush": "false"}


def test_rich_links_and_money_stay_objects() -> None:
    assert metadata(
        {
            "invoice": {"url": "https://x/i/1", "value": "Invoice 1"},
            "fee": {"amount": Decimal("250.0"), "currency": "EUR"},
        }
    ) == {
        "invoice": {"url": "https://x/i/1", "value": "Invoice 1"},
        "fee": {"amount": 250, "currency": "eur"},
    }


def test_other_objects_are_flattened_keeping_nested_links() -> None:
    assert metadata(
        {
            "order": {"id": "o1", "link": {"url": "https://x/o/1", "value": "o1"}},
            "partial_link": {"url": "https://x", "value": None},
            "more": {"url": "https://x", "value": "v", "extra": 1},
        }
    ) == {
        "order_id": "o1",
        "order_link": {"url": "https://x/o/1", "value": "o1"},
        "partial_link_url": "https://x",
        "more_url": "https://x",
        "more_value": "v",
        "more_extra": 1,
    }


def test_money_with_a_bad_amount_is_refused() -> None:
    with pytest.raises(MappingError) as caught:
        metadata({"fee": {"amount": "lots", "currency": "usd"}})
    assert caught.value.code == "bad_number"
    assert caught.value.message.startswith("fee.amount is not a number")


def test_lists_are_left_out_with_a_warning_per_event_and_key() -> None:
    record = {**BASE, "properties": {"items": ["a", "b"], "codes": [], "sku": "A-1"}}
    plan = event(record)
    assert plan.payload["metadata"] == {"sku": "A-1"}
    assert warning_keys(record) == [
        "list:event:Order Completed:items",
        "list:event:Order Completed:codes",
    ]


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"revenue": Decimal("19.99")}, {"amount": 1999, "currency": "usd"}),
        ({"revenue": Decimal("2.675")}, {"amount": 268, "currency": "usd"}),
        # A float only comes from a stream map's expression; it rounds from its decimal text.
        ({"revenue": 2.675}, {"amount": 268, "currency": "usd"}),
        ({"revenue": Decimal("19.99"), "currency": "EUR"}, {"amount": 1999, "currency": "eur"}),
        ({"revenue": "5", "currency": " GBP "}, {"amount": 500, "currency": "gbp"}),
        ({"revenue": Decimal("0.005")}, {"amount": 1, "currency": "usd"}),
        ({"revenue": Decimal("0.004")}, {"amount": 0, "currency": "usd"}),
        ({"revenue": 0}, {"amount": 0, "currency": "usd"}),
        ({"revenue": Decimal("-3.5"), "currency": None}, {"amount": -350, "currency": "usd"}),
    ],
)
def test_revenue_becomes_price_in_cents(
    properties: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert metadata(properties) == {"price": expected}


def test_currency_without_revenue_is_plain_metadata() -> None:
    assert metadata({"currency": "EUR", "revenue": None}) == {"currency": "EUR"}


def test_revenue_in_remaining_fields_without_properties() -> None:
    plan = event({**BASE, "revenue": 10, "currency": "usd", "order_id": "o1"})
    assert plan.payload["metadata"] == {
        "order_id": "o1",
        "price": {"amount": 1000, "currency": "usd"},
    }


def test_revenue_overrides_price_with_a_warning() -> None:
    record = {**BASE, "properties": {"revenue": 1, "price": 99}}
    assert event(record).payload["metadata"] == {"price": {"amount": 100, "currency": "usd"}}
    assert warning_keys(record) == ["price:event:Order Completed"]


@pytest.mark.parametrize(
    ("revenue", "expected"),
    [
        ("free", {"revenue": "free", "currency": "EUR"}),
        (True, {"revenue": "true", "currency": "EUR"}),
        ({"amount": 1}, {"revenue_amount": 1, "currency": "EUR"}),
        ([1], {"currency": "EUR"}),
    ],
)
def test_revenue_that_is_not_a_number_stays_a_property_with_a_warning(
    revenue: Any, expected: dict[str, Any]
) -> None:
    record = {**BASE, "properties": {"revenue": revenue, "currency": "EUR"}}
    plan = event(record)
    assert plan.payload["metadata"] == expected
    keys = [warning.key for warning in plan.warnings]
    assert keys[0] == "revenue_not_a_number:event:Order Completed"
    assert "revenue that is not a number" in plan.warnings[0].message
    assert "\n" not in plan.warnings[0].message


def test_a_price_that_is_already_money_is_kept_and_revenue_stays_a_property() -> None:
    record = {
        **BASE,
        "properties": {
            "revenue": Decimal("12.5"),
            "currency": "usd",
            "price": {"amount": 999, "currency": "EUR"},
        },
    }
    plan = event(record)
    assert plan.payload["metadata"] == {
        "price": {"amount": 999, "currency": "eur"},
        "revenue": 12.5,
        "currency": "usd",
    }
    assert [warning.key for warning in plan.warnings] == ["price_kept:event:Order Completed"]


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"shipped": datetime(2024, 1, 1)}, {"shipped_date": JAN_1_2024}),
        ({"shipped": date(2024, 1, 1)}, {"shipped_date": JAN_1_2024}),
        ({"shipped_date": datetime(2024, 1, 1)}, {"shipped_date": JAN_1_2024}),
        ({"order": {"placed": date(2024, 1, 1)}}, {"order_placed_date": JAN_1_2024}),
    ],
)
def test_date_values_are_unix_seconds_under_a_date_key(
    properties: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert metadata(properties) == expected


def test_schema_dates_and_types_apply_to_properties() -> None:
    schema = RecordSchema(
        {
            "properties": {
                "properties": {
                    "type": "object",
                    "properties": {
                        "shipped": {"type": "string", "format": "date-time"},
                        "order": {"properties": {"due": {"type": "string", "format": "date"}}},
                        "code": {"type": "string"},
                        "ratio": {"type": "number"},
                    },
                }
            }
        }
    )
    properties = {
        "shipped": "2024-01-01T00:00:00Z",
        "order": {"due": "2024-01-01"},
        "code": 7,
        "ratio": 1,
    }
    assert metadata(properties, schema) == {
        "shipped_date": JAN_1_2024,
        "order_due_date": JAN_1_2024,
        "code": "7",
        "ratio": 1.0,
    }


def test_schema_dates_apply_to_remaining_fields() -> None:
    schema = RecordSchema({"properties": {"shipped": {"type": "string", "format": "date-time"}}})
    plan = event({**BASE, "shipped": "2024-01-01T00:00:00Z"}, schema)
    assert plan.payload["metadata"] == {"shipped_date": JAN_1_2024}


def test_a_bad_date_in_metadata_is_refused() -> None:
    schema = RecordSchema({"properties": {"shipped": {"type": "string", "format": "date-time"}}})
    with pytest.raises(MappingError) as caught:
        event({**BASE, "shipped": "someday"}, schema)
    assert caught.value.code == "bad_date"


def test_long_strings_are_cut_with_a_warning() -> None:
    record = {**BASE, "properties": {"note": "n" * 256, "ok": "o" * 255}}
    assert event(record).payload["metadata"] == {"note": "n" * 255, "ok": "o" * 255}
    assert warning_keys(record) == ["truncated:event:Order Completed:note"]


# --- the 10-key cap -----------------------------------------------------------------------


def test_ten_keys_pass_without_a_warning() -> None:
    properties = {f"k{index:02}": index for index in range(10)}
    plan = event({**BASE, "properties": properties})
    assert plan.payload["metadata"] == properties
    assert plan.warnings == []


def test_over_ten_keys_keeps_price_then_sorted_keys_and_warns() -> None:
    properties = {f"k{index:02}": index for index in reversed(range(12))}
    plan = event({**BASE, "properties": {**properties, "revenue": 1}})
    assert list(plan.payload["metadata"]) == ["price"] + [f"k{index:02}" for index in range(9)]
    [warning] = plan.warnings
    assert warning.key == "metadata_keys:Order Completed"
    assert "13 metadata keys" in warning.message
    assert "dropped k09, k10, k11" in warning.message
    assert "\n" not in warning.message


def test_over_ten_keys_without_price_keeps_the_first_ten_sorted() -> None:
    properties = {"zeta": 1, "alpha": 2, **{f"m{index}": index for index in range(9)}}
    kept = event({**BASE, "properties": properties}).payload["metadata"]
    assert list(kept) == ["alpha"] + [f"m{index}" for index in range(9)]


def test_the_cap_counts_keys_after_flattening_and_dropping() -> None:
    properties = {
        "order": {f"f{index}": index for index in range(8)},
        "items": ["left out"],
        "empty": None,
        "a": 1,
        "b": 2,
        "c": 3,
    }
    plan = event({**BASE, "properties": properties})
    assert list(plan.payload["metadata"]) == ["a", "b", "c"] + [f"order_f{i}" for i in range(7)]
    assert [warning.key for warning in plan.warnings] == [
        "list:event:Order Completed:items",
        "metadata_keys:Order Completed",
    ]


def test_the_cap_is_the_same_whatever_the_key_order() -> None:
    keys = [f"key{index:02}" for index in range(15)]
    forward = metadata({key: 1 for key in keys})
    backward = metadata({key: 1 for key in reversed(keys)})
    assert forward == backward
    assert list(forward) == keys[:10]


def test_mapping_does_not_change_the_record() -> None:
    record = {**BASE, "properties": {"revenue": 1, "order": {"id": 1}, "items": [1]}}
    snapshot = repr(record)
    event(record)
    assert repr(record) == snapshot


# --- the contact by its Intercom id (RudderStack v2: a lead's events) ---------------------


def test_properties_id_names_the_contact_only_when_nothing_else_does() -> None:
    by_id = event({"event": "e", "timestamp": JAN_1_2024, "properties": {"id": "ic1", "a": 1}})
    assert by_id.payload == {
        "event_name": "e",
        "created_at": JAN_1_2024,
        "id": "ic1",
        "metadata": {"a": 1},
    }
    assert by_id.ordering_keys == ()
    # A user id wins, and properties.id is then an ordinary property.
    by_user = event({**BASE, "properties": {"id": "ic1"}})
    assert by_user.payload["user_id"] == "u1"
    assert "id" not in by_user.payload
    assert by_user.payload["metadata"] == {"id": "ic1"}
    # Off with warehouse_columns: properties.id is RudderStack's convention.
    with pytest.raises(MappingError):
        event(
            {"event": "e", "timestamp": JAN_1_2024, "properties": {"id": "ic1"}},
            warehouse_columns=False,
        )


def test_intercom_contact_id_names_the_contact_and_is_no_metadata() -> None:
    plan = event({"event": "e", "timestamp": JAN_1_2024, "intercom_contact_id": "ic1", "a": 1})
    assert plan.payload["id"] == "ic1"
    assert plan.payload["metadata"] == {"a": 1}


def test_a_message_rows_own_id_never_names_the_contact() -> None:
    row = {"id": "msg-1", "event_text": "e", "timestamp": JAN_1_2024, "received_at": JAN_1_2024}
    with pytest.raises(MappingError) as caught:
        event(row)
    assert caught.value.code == "no_identity"
    assert event({**row, "context_traits_id": "u9"}).payload["user_id"] == "u9"
