"""A row's own time (the plan's `as_of`, Unix milliseconds): a Segment or RudderStack call's
timestamp, or the column `row_time_columns` names; rows of other tables have none."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from target_intercom.errors import FatalError, MappingError
from target_intercom.mapping import ContactOptions, RecordSchema, map_company, map_contact

EMPTY = RecordSchema({})
NOON = 1704110400000  # 2024-01-01T12:00:00Z, in milliseconds
IDENTIFY = {
    "id": "msg-1",
    "user_id": "u1",
    "received_at": "2024-01-01T12:00:09Z",
    "sent_at": "2024-01-01T12:00:08Z",
    "original_timestamp": "2024-01-01T12:00:07Z",
}


def test_a_call_is_as_of_its_timestamp_to_the_millisecond():
    plan = map_contact(
        {**IDENTIFY, "timestamp": "2024-01-01T12:00:00.250Z"}, EMPTY, ContactOptions()
    )
    assert plan.as_of == NOON + 250
    parsed = datetime(2024, 1, 1, 12, 0, 0, 250999, tzinfo=timezone.utc)  # as the SDK gives it
    assert (
        map_contact({**IDENTIFY, "timestamp": parsed}, EMPTY, ContactOptions()).as_of == NOON + 250
    )


def test_without_a_timestamp_the_next_time_of_the_call_counts():
    assert map_contact(IDENTIFY, EMPTY, ContactOptions()).as_of == NOON + 7000


def test_a_group_call_is_as_of_its_timestamp():
    row = {"id": "m", "group_id": "g1", "received_at": "2024-01-01T12:00:00Z"}
    assert map_company(row, EMPTY).as_of == NOON


def test_a_row_of_an_ordinary_table_has_no_time():
    row = {"id": "u1", "timestamp": "2024-01-01T12:00:00Z", "changed_at": "2024-01-01"}
    assert map_contact(row, EMPTY, ContactOptions()).as_of is None
    off = ContactOptions(warehouse_columns=False)
    assert map_contact({**IDENTIFY, "timestamp": "2024-01-01T12:00:00Z"}, EMPTY, off).as_of is None


@pytest.mark.parametrize(
    ("value", "as_of"),
    [
        ("2024-01-01T12:00:00+00:00", NOON),
        ("2024-01-01T13:00:00+01:00", NOON),
        ("Mon Jan 01 2024 12:00:00 GMT+0000 (UTC)", NOON),
        (1704110400, NOON),
        (1704110400.5, NOON + 500),
        (NOON + 1, NOON + 1),
        ("1704110400", NOON),
        (Decimal("1704110400.001"), NOON + 1),
        (datetime(2024, 1, 1, 12), NOON),  # naive: UTC
    ],
)
def test_the_named_column_gives_the_time_in_any_date_form(value, as_of):
    options = ContactOptions(row_time_column="changed_at")
    plan = map_contact({"id": "u1", "changed_at": value, "plan": "pro"}, EMPTY, options)
    assert plan.as_of == as_of
    # It is the rows' bookkeeping, not an attribute of the contact.
    assert plan.custom_attributes == {"plan": "pro"}


def test_the_named_column_wins_over_a_calls_timestamp_and_may_be_empty():
    options = ContactOptions(row_time_column="changed_at")
    row = {**IDENTIFY, "timestamp": "2024-01-01T12:00:00Z", "changed_at": 1}
    assert map_contact(row, EMPTY, options).as_of == 1000
    assert map_contact({"id": "u1", "changed_at": None}, EMPTY, options).as_of is None


def test_a_time_that_is_no_time_is_the_records_error():
    options = ContactOptions(row_time_column="changed_at")
    with pytest.raises(MappingError, match=r"changed_at \(the row's time") as caught:
        map_contact({"id": "u1", "changed_at": "yesterday"}, EMPTY, options)
    assert caught.value.code == "bad_row_time"


def test_a_calls_time_that_is_no_time_gives_way_to_the_next_with_a_warning():
    plan = map_contact({**IDENTIFY, "timestamp": "soon"}, EMPTY, ContactOptions())
    assert plan.as_of == NOON + 7000  # original_timestamp
    assert [w.key for w in plan.warnings] == ["bad_call_time:user:timestamp"]
    assert "input order" in plan.warnings[0].message
    row = {"id": "m1", "user_id": "u1", "received_at": "x"}
    assert map_contact(row, EMPTY, ContactOptions()).as_of is None


def test_the_setting_is_found_by_either_name_of_the_stream():
    options = ContactOptions(row_time_columns=(("public-users_history", "changed_at"),))
    assert options.for_stream(["users", "public-users_history"]).row_time_column == "changed_at"
    assert options.for_stream(["users", "public-users"]).row_time_column is None
    both = ContactOptions(row_time_columns=(("users", "a"), ("public-users_history", "b")))
    with pytest.raises(FatalError, match="names different columns"):
        both.for_stream(["users", "public-users_history"])
