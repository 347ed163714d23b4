"""Rows of a `custom_objects` stream to custom object instances (API 2.16): the body of
`POST /custom_object_instances/{type}`, whose `custom_attributes` take strings only
(`create_or_update_custom_object_instance_request`), and the contact the row names."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from target_intercom import keys
from target_intercom.config_schema import SETTINGS
from target_intercom.errors import FatalError, MappingError
from target_intercom.mapping import ContactOptions, CustomObjectStream, RecordSchema

ORDERS = CustomObjectStream("Order", "order")
JAN_1_2024 = 1704067200


def plan(record: dict[str, Any], key: tuple[str, ...] = ("id",), kind=ORDERS):
    return kind.map(record, RecordSchema({}), ContactOptions(key_properties=key))


def test_external_id_from_the_key_and_values_as_strings() -> None:
    made = plan(
        {
            "id": 42,
            "user_id": "u1",
            "total": 10.0,
            "price": Decimal("9.90"),
            "paid": True,
            "items": [{"sku": "a"}],
            "placed_on": date(2024, 1, 1),
            "note": None,
            "_sdc_deleted_at": None,
            "_sdc_lsn": 7,
        }
    )
    assert made.body == {
        "external_id": "42",
        "custom_attributes": {
            "total": "10",
            "price": "9.90",
            "paid": "true",
            "items": '[{"sku":"a"}]',
            "placed_on": "2024-01-01",
        },
    }
    assert made.user_id == "u1" and made.email is None and not made.deleted
    assert made.ordering_keys == (
        keys.custom_object("Order", "42"),
        keys.shared(keys.contact_by_external_id("u1")),
    )


def test_an_external_id_column_wins_over_the_key_and_times_are_unix_seconds() -> None:
    made = plan(
        {
            "id": 1,
            "external_id": "ord-1",
            "email": " Ann@Example.com ",
            "external_created_at": "2024-01-01T00:00:00Z",
            "external_updated_at": datetime(2024, 1, 1, tzinfo=timezone.utc),
        }
    )
    assert made.body == {
        "external_id": "ord-1",
        "external_created_at": JAN_1_2024,
        "external_updated_at": JAN_1_2024,
        # The key column is an attribute when it is not the external id.
        "custom_attributes": {"id": "1"},
    }
    assert made.email == "Ann@Example.com"


def test_a_key_of_several_columns_is_joined() -> None:
    made = plan({"shop": "eu", "number": 7}, key=("shop", "number"))
    assert made.body == {"external_id": "eu:7", "custom_attributes": {}}


def test_no_external_id_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="no external id") as caught:
        plan({"total": 1}, key=())
    assert caught.value.code == "no_external_id"


def test_a_row_without_a_contact_or_reference_attribute_names_none() -> None:
    assert not plan({"id": 1}).names_contact
    unlinked = plan({"id": 1, "user_id": "u1"}, kind=CustomObjectStream("Order"))
    assert not unlinked.names_contact
    assert unlinked.ordering_keys == (keys.custom_object("Order", "1"),)


def test_a_deleted_row_is_marked() -> None:
    assert plan({"id": 1, "_sdc_deleted_at": "2024-01-01T00:00:00Z"}).deleted


def test_non_finite_numbers_are_refused() -> None:
    with pytest.raises(MappingError):
        plan({"id": 1, "total": float("nan")})


SETTING = next(s for s in SETTINGS if s.name == "custom_objects")


def test_the_setting_reads_each_stream() -> None:
    assert SETTING.read is not None
    read = SETTING.read({"orders": {"type": "Order", "reference_attribute": "order"}})
    assert read == {"orders": CustomObjectStream("Order", "order")}
    assert SETTING.read(None) == {}


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"events": {"type": "Order"}}, "loads itself"),
        ({"orders": {"type": " "}}, 'needs "type"'),
        ({"orders": {"type": "Order", "reference_attribute": ""}}, "reference_attribute"),
    ],
)
def test_the_setting_refuses(value: dict[str, Any], needle: str) -> None:
    assert SETTING.read is not None
    with pytest.raises(FatalError, match=needle):
        SETTING.read(value)
