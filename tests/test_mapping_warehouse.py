"""Rows of Segment's and RudderStack's warehouse tables, and the shapes of their test data.

The rows below have the columns those tools document for each table (Segment, "Warehouse
Schemas"; RudderStack, "Warehouse Schema"): `identifies` and `groups` name their subject in
`user_id`/`group_id` and carry the call's message id in `id`; the `users` table's `id` is the
user's id; `tracks` and per-event tables (`order_completed`) hold `event` (a slug) and
`event_text` (the name); every table has `received_at`, `sent_at`, `timestamp`,
`original_timestamp`, `uuid_ts` and flattened `context_*` columns.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from target_intercom.errors import MappingError
from target_intercom.mapping import (
    CompanyLink,
    ContactOptions,
    RecordSchema,
    map_company,
    map_contact,
    map_event,
    to_unix_seconds,
)

EMPTY = RecordSchema({})
JAN_1_2024 = 1704067200
MAY_19_2019 = 1558290864  # 2019-05-19T18:34:24Z

PIPELINE = {
    "received_at": "2024-01-01T00:00:05Z",
    "sent_at": "2024-01-01T00:00:04Z",
    "timestamp": "2024-01-01T00:00:00Z",
    "original_timestamp": "2024-01-01T00:00:03Z",
    "uuid_ts": "2024-01-01T00:01:00Z",
    "uuid": 123456,
    "loaded_at": "2024-01-01T00:02:00Z",
    "context_library_name": "analytics-node",
    "context_library_version": "6.0.0",
    "context_ip": "10.0.0.1",
}
RUDDER = {
    "channel": "web",
    "context_destination_id": "dest-1",
    "context_destination_type": "POSTGRES",
    "context_source_id": "src-1",
    "context_source_type": "Javascript",
    "context_request_ip": "10.0.0.2",
}
SEGMENT_IDENTIFY = {
    "id": "msg-1",
    "user_id": "u1",
    "anonymous_id": "anon-1",
    "email": "ann@x.io",
    "first_name": "Ann",
    "last_name": "Lee",
    "plan": "pro",
    **PIPELINE,
}


def contact(record: dict[str, Any], schema: RecordSchema = EMPTY, **options: Any):
    return map_contact(record, schema, ContactOptions(**options))


def company(record: dict[str, Any], schema: RecordSchema = EMPTY, **options: Any):
    return map_company(record, schema, ContactOptions(**options))


def event(record: dict[str, Any], schema: RecordSchema = EMPTY, **options: Any):
    return map_event(record, schema, ContactOptions(**options))


def declaring(*columns: str) -> RecordSchema:
    return RecordSchema(
        {"properties": {column: {"type": ["string", "null"]} for column in columns}}
    )


# --- dates as JavaScript writes them --------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "Mon May 19 2019 18:34:24 GMT+0000 (UTC)",
        # The weekday is not checked, as JavaScript does not check it (May 19 was a Sunday).
        "Sun May 19 2019 18:34:24 GMT+0000 (Coordinated Universal Time)",
        "Sun May 19 2019 20:34:24 GMT+0200 (Central European Summer Time)",
        "Sun May 19 2019 13:34:24 GMT-0500",
        " Sun May 19 2019 18:34:24 GMT+0000 (UTC) ",
    ],
)
def test_javascript_date_texts_are_dates(value: str) -> None:
    assert to_unix_seconds(value, "createdAt") == MAY_19_2019


@pytest.mark.parametrize(
    "value",
    [
        "Mon Feb 30 2019 18:34:24 GMT+0000 (UTC)",
        "Mon May 19 2019 24:00:00 GMT+0000",
        "Mon May 19 2019 18:34:24",
        "Mon May 19 2019 18:34:24 GMT",
        "Mon May 19 2019",
        "Foo May 19 2019 18:34:24 GMT+0000",
        "Mon Mai 19 2019 18:34:24 GMT+0000",
        "Mon May 19 2019 18:34:24 GMT+0000 (UTC) trailing",
    ],
)
def test_javascript_like_garbage_is_still_refused(value: str) -> None:
    with pytest.raises(MappingError) as caught:
        to_unix_seconds(value, "createdAt")
    assert caught.value.code == "bad_date"
    assert caught.value.message.startswith("createdAt is not a date")
    assert "JavaScript date text" in caught.value.message


def test_javascript_dates_in_standard_fields_and_event_times() -> None:
    plan = contact({"id": "u1", "createdAt": "Mon May 19 2019 18:34:24 GMT+0000 (UTC)"})
    assert plan.fields["signed_up_at"] == MAY_19_2019
    plan = event({"event": "e", "user_id": "u1", "timestamp": "Mon May 19 2019 18:34:24 GMT+0000"})
    assert plan.payload["created_at"] == MAY_19_2019


# --- users: identifies and users tables -------------------------------------------------------


def test_a_segment_identifies_row_sends_its_traits_only() -> None:
    plan = contact(SEGMENT_IDENTIFY)
    assert plan.payload() == {
        "external_id": "u1",
        "email": "ann@x.io",
        "role": "user",
        "name": "Ann Lee",
        # Segment's Intercom destination updates last seen on every identify "unless
        # active: false": the call's timestamp.
        "last_seen_at": JAN_1_2024,
        "custom_attributes": {"plan": "pro"},
    }
    assert plan.warnings == []


def test_a_rudderstack_identifies_row_sends_its_traits_only() -> None:
    record = {
        **SEGMENT_IDENTIFY,
        **RUDDER,
        "context_traits_email": "ann@x.io",
        "context_traits_logins": 2,
        "context_sources_job_id": "job-1",
    }
    plan = contact(record)
    assert plan.external_id == "u1"
    assert plan.custom_attributes == {"plan": "pro"}


def test_in_an_identifies_row_id_is_the_message_id_never_the_user() -> None:
    record = {**SEGMENT_IDENTIFY, "user_id": None}
    plan = contact(record)
    assert plan.external_id is None
    assert plan.email == "ann@x.io"
    assert plan.custom_attributes == {"plan": "pro"}
    assert contact(record, anonymous_id_as_user_id=True).external_id == "anon-1"


def test_the_user_id_column_counts_when_the_schema_declares_it_and_the_record_omits_it() -> None:
    record = {key: value for key, value in SEGMENT_IDENTIFY.items() if key != "user_id"}
    assert contact(record, declaring("user_id")).external_id is None
    assert contact(record).external_id == "msg-1"  # no user_id column: a users table's id


def test_an_anonymous_identifies_row_without_email_names_what_it_looked_at() -> None:
    # Naming only an anonymous id, it is an anonymous call (Segment drops those); without
    # even that, a record error naming where it looked.
    record = {**SEGMENT_IDENTIFY, "user_id": None, "email": None}
    with pytest.raises(MappingError) as caught:
        contact(record)
    assert caught.value.code == "anonymous_call"
    with pytest.raises(MappingError) as caught:
        contact({**record, "anonymous_id": None})
    assert caught.value.code == "no_identity"
    assert "(looked in external_id, user_id, userId, context.traits.user_id" in (
        caught.value.message
    )


@pytest.mark.parametrize("extra", [{}, RUDDER, {"anonymous_id": "anon-9"}])
def test_a_users_table_row_id_is_the_users_id(extra: dict[str, Any]) -> None:
    record = {
        "id": "u7",
        "email": "u7@x.io",
        "plan": "team",
        "received_at": "2024-01-01T00:00:00Z",
        "uuid_ts": "2024-01-01T00:00:00Z",
        **extra,
    }
    plan = contact(record)
    assert plan.external_id == "u7"
    assert plan.custom_attributes == {"plan": "team"}


def test_every_pipeline_column_is_sent_when_warehouse_columns_is_off() -> None:
    plan = contact({**SEGMENT_IDENTIFY, **RUDDER}, warehouse_columns=False)
    assert plan.external_id == "u1"
    assert set(plan.custom_attributes) == {"plan"} | set(PIPELINE) | set(RUDDER)
    record = {**SEGMENT_IDENTIFY, "user_id": None}
    assert contact(record, warehouse_columns=False).external_id == "msg-1"


def test_generic_columns_of_an_ordinary_table_are_kept() -> None:
    record = {
        "id": "u1",
        "user_id": "crm-1",
        "timestamp": "2024-01-01",
        "channel": "partner",
        "sent_at": "2024-01-01",
        "context_notes": "vip",
    }
    plan = contact(record)
    assert plan.external_id == "crm-1"
    assert plan.custom_attributes == {
        "timestamp": "2024-01-01",
        "channel": "partner",
        "sent_at": "2024-01-01",
        "context_notes": "vip",
    }


@pytest.mark.parametrize("marker", ["received_at", "uuid_ts", "original_timestamp", "event_text"])
def test_one_column_of_those_tables_makes_a_message_row(marker: str) -> None:
    plan = contact({"user_id": "u1", "id": "m1", "channel": "web", marker: "x"})
    assert plan.external_id == "u1"
    assert plan.custom_attributes == {}


# --- users: context -------------------------------------------------------------------------

NESTED_TRAITS = {
    "context": {
        "traits": {
            "email": "ctx@x.io",
            "firstName": "Cat",
            "lastName": "Ray",
            "phone": "+353 1",
            "createdAt": "Mon May 19 2019 18:34:24 GMT+0000 (UTC)",
            "userId": "ctx-u",
        }
    }
}
FLAT_TRAITS = {
    "received_at": "2024-01-01T00:00:00Z",
    "context_traits_email": "ctx@x.io",
    "context_traits_firstname": "Cat",
    "context_traits_last_name": "Ray",
    "context_traits_phone": "+353 1",
    "context_traits_created_at": "Mon May 19 2019 18:34:24 GMT+0000 (UTC)",
    "context_traits_user_id": "ctx-u",
}


@pytest.mark.parametrize("traits", [NESTED_TRAITS, FLAT_TRAITS])
def test_context_traits_fill_in_what_the_record_lacks(traits: dict[str, Any]) -> None:
    plan = contact(traits)
    assert plan.fields == {
        "external_id": "ctx-u",
        "email": "ctx@x.io",
        "role": "user",
        "name": "Cat Ray",
        "phone": "+353 1",
        "signed_up_at": MAY_19_2019,
    }
    assert plan.custom_attributes == {}


@pytest.mark.parametrize("traits", [NESTED_TRAITS, FLAT_TRAITS])
def test_the_records_own_fields_beat_context_traits(traits: dict[str, Any]) -> None:
    own = {"user_id": "u1", "email": "own@x.io", "name": "Own Name", "phone": "+1"}
    plan = contact({**traits, **own})
    assert (plan.external_id, plan.email, plan.fields["name"], plan.fields["phone"]) == (
        "u1",
        "own@x.io",
        "Own Name",
        "+1",
    )
    assert plan.fields["signed_up_at"] == MAY_19_2019


def test_a_records_own_first_name_beats_a_context_full_name() -> None:
    plan = contact({"id": "u1", "firstname": "Ann", "context": {"traits": {"name": "X Y"}}})
    assert plan.fields["name"] == "Ann"


def test_context_traits_are_not_read_when_warehouse_columns_is_off() -> None:
    with pytest.raises(MappingError):
        contact(NESTED_TRAITS, warehouse_columns=False)
    plan = contact({"id": "u1", **FLAT_TRAITS}, warehouse_columns=False)
    assert plan.email is None
    assert "context_traits_email" in plan.custom_attributes


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"firstname": "Ann", "lastname": "Lee"}, "Ann Lee"),
        ({"lastname": "Lee"}, "Lee"),
        ({"first_name": "Ann", "firstname": "X", "lastname": "Lee"}, "Ann Lee"),
    ],
)
def test_lowercase_first_and_last_names(record: dict[str, Any], expected: str) -> None:
    plan = contact({"id": "u1", **record})
    assert plan.fields["name"] == expected
    assert plan.custom_attributes == {}


@pytest.mark.parametrize(
    "record",
    [
        {"context": {"Intercom": {"unsubscribedFromEmails": True}}},
        {"context": {"intercom": {"unsubscribedFromEmails": "true"}}},
        {"context": {"unsubscribedFromEmails": True}},
        {"context": {"traits": {"unsubscribedFromEmails": 1}}},
        {"received_at": "x", "context_intercom_unsubscribed_from_emails": True},
        {"received_at": "x", "context_unsubscribed_from_emails": True},
        {"received_at": "x", "context_traits_unsubscribedfromemails": True},
    ],
)
def test_unsubscribed_from_emails_from_the_context(record: dict[str, Any]) -> None:
    plan = contact({"id": "u1", **record})
    assert plan.fields["unsubscribed_from_emails"] is True
    assert plan.custom_attributes == {}


def test_the_intercom_context_flag_beats_the_plain_one_and_the_record_beats_both() -> None:
    context = {"Intercom": {"unsubscribedFromEmails": False}, "unsubscribedFromEmails": True}
    assert contact({"id": "u1", "context": context}).fields["unsubscribed_from_emails"] is False
    record = {"id": "u1", "unsubscribed_from_emails": True, "context": context}
    assert contact(record).fields["unsubscribed_from_emails"] is True


def test_a_bad_context_flag_names_where_it_was() -> None:
    with pytest.raises(MappingError) as caught:
        contact({"id": "u1", "context": {"Intercom": {"unsubscribedFromEmails": "maybe"}}})
    assert caught.value.code == "bad_boolean"
    assert caught.value.message.startswith(
        "context.Intercom.unsubscribedFromEmails is not a boolean"
    )
    with pytest.raises(MappingError) as caught:
        contact({"id": "u1", "received_at": "x", "context_traits_created_at": "someday"})
    assert caught.value.message.startswith("context_traits_created_at is not a date")


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"context": {"active": True}, "timestamp": "2024-01-01T00:00:00Z"}, JAN_1_2024),
        ({**PIPELINE, "context_active": True}, JAN_1_2024),
        ({**PIPELINE, "timestamp": None, "context_active": "true"}, JAN_1_2024 + 3),
        ({"context": {"active": True, "lastRequestAt": JAN_1_2024 + 60}}, JAN_1_2024 + 60),
        ({"lastRequestAt": "2024-01-01T00:01:00Z"}, JAN_1_2024 + 60),
        ({"last_request_at": JAN_1_2024 + 60, "context": {"active": True}}, JAN_1_2024 + 60),
        ({"lastSeenAt": JAN_1_2024, "lastRequestAt": 1}, JAN_1_2024),
    ],
)
def test_last_seen_at_from_an_active_call_or_last_request_at(
    record: dict[str, Any], expected: int
) -> None:
    plan = contact({"id": "u1", **record})
    assert plan.fields["last_seen_at"] == expected
    assert plan.custom_attributes == {}


@pytest.mark.parametrize(
    "record",
    [
        {"context": {"active": False}, "timestamp": "2024-01-01T00:00:00Z"},
        {**PIPELINE},
        {**PIPELINE, "context_active": False},
    ],
)
def test_no_last_seen_at_unless_the_call_says_it_was_active(record: dict[str, Any]) -> None:
    assert "last_seen_at" not in contact({"id": "u1", **record}).fields


def test_an_active_call_without_a_time_warns() -> None:
    plan = contact({"id": "u1", "context": {"active": True}})
    assert "last_seen_at" not in plan.fields
    assert [warning.key for warning in plan.warnings] == ["active_without_time:contact"]


def test_the_time_an_active_call_used_is_not_also_an_attribute() -> None:
    plan = contact({"id": "u1", "context": {"active": True}, "sent_at": JAN_1_2024})
    assert plan.fields["last_seen_at"] == JAN_1_2024
    assert plan.custom_attributes == {}


def test_include_context_reads_flattened_device_columns() -> None:
    record = {
        **SEGMENT_IDENTIFY,
        "context_device_type": "ios",
        "context_os_name": "iOS",
        "context_os_version": "17.1",
        "context_app_version": "2.3.0",
    }
    plan = contact(record, include_context=True)
    assert plan.custom_attributes == {
        "plan": "pro",
        "device_type": "ios",
        "os_name": "iOS",
        "os_version": "17.1",
        "app_version": "2.3.0",
    }
    assert contact(record).custom_attributes == {"plan": "pro"}


def test_include_context_still_reads_a_nested_context_with_warehouse_columns_off() -> None:
    record = {"id": "u1", "context": {"device": {"type": "ios"}}}
    plan = contact(record, include_context=True, warehouse_columns=False)
    assert plan.custom_attributes == {"device_type": "ios"}


# --- users: a company named by text, leads ------------------------------------------------


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_a_company_given_as_text_is_a_company_of_that_name() -> None:
    plan = contact({"id": "u1", "company": " Initech "})
    [link] = plan.companies
    assert link.company_id == md5("Initech")
    assert link.remove is False
    assert link.company is not None
    assert link.company.payload() == {"company_id": md5("Initech"), "name": "Initech"}
    assert plan.custom_attributes == {}


def test_the_same_name_is_the_same_company_id_in_every_run() -> None:
    ids = {
        contact({"id": f"u{i}", "company": "Acme Ltd"}).companies[0].company_id for i in range(3)
    }
    assert ids == {md5("Acme Ltd")}


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_company_name_is_no_company(blank: str) -> None:
    assert contact({"id": "u1", "company": blank}).companies == []


def test_a_company_named_by_text_and_by_object_are_both_linked() -> None:
    record = {"id": "u1", "company": "Acme", "companies": [{"id": "c2"}]}
    assert [link.company_id for link in contact(record).companies] == [md5("Acme"), "c2"]


def test_a_lead_sends_no_external_id_and_is_known_by_email() -> None:
    plan = contact({"id": "u1", "email": "l@x.io", "role": "lead"})
    assert plan.payload() == {"email": "l@x.io", "role": "lead"}
    assert plan.identities() == ("contact:email:l@x.io",)
    assert [warning.key for warning in plan.warnings] == ["lead_external_id:contact"]
    assert plan.warnings[0].message.startswith("Lead records (role lead) carry an external_id")


def test_a_lead_by_the_contact_role_setting_too() -> None:
    plan = contact(
        {"anonymous_id": "a1", "email": "l@x.io"}, role="lead", anonymous_id_as_user_id=True
    )
    assert plan.payload() == {"email": "l@x.io", "role": "lead"}


def test_a_lead_with_no_email_is_a_record_error() -> None:
    with pytest.raises(MappingError) as caught:
        contact({"id": "u1", "role": "lead"})
    assert caught.value.code == "no_identity"
    assert caught.value.message.startswith(
        "User record is a lead (role lead) with an external_id but no email"
    )
    assert "\n" not in caught.value.message


def test_a_lead_takes_its_email_from_context_traits() -> None:
    plan = contact({"id": "u1", "role": "lead", "context": {"traits": {"email": "l@x.io"}}})
    assert plan.payload() == {"email": "l@x.io", "role": "lead"}


def test_role_from_context_traits() -> None:
    plan = contact({"email": "l@x.io", "context": {"traits": {"role": "lead"}}})
    assert plan.fields["role"] == "lead"


# --- companies: groups table, members by email ------------------------------------------------

SEGMENT_GROUP = {
    "id": "msg-g1",
    "group_id": "acme",
    "user_id": "u1",
    "anonymous_id": "anon-1",
    "name": "Acme",
    "employees": 120,
    "plan": "enterprise",
    "industry": "Anvils",
    "email": "hello@acme.test",
    **PIPELINE,
    **RUDDER,
}


def test_a_groups_row_is_its_company_and_attaches_its_user() -> None:
    plan = company(SEGMENT_GROUP)
    assert plan.payload() == {
        "company_id": "acme",
        "name": "Acme",
        "size": 120,
        "plan": "enterprise",
        "industry": "Anvils",
    }
    # A group call's `email` is its user's (RudderStack's Intercom destination, v2: the
    # user to attach), never a company attribute; its `user_id` names the user first.
    assert plan.user_ids == ["u1"]
    assert plan.user_emails == []


def test_in_a_groups_row_id_is_the_message_id_never_the_company() -> None:
    with pytest.raises(MappingError) as caught:
        company({**SEGMENT_GROUP, "group_id": None})
    assert caught.value.code == "no_company_id"
    assert "(looked in company_id, group_id, groupId)" in caught.value.message
    assert company({**SEGMENT_GROUP, "group_id": None}, warehouse_columns=False).company_id == (
        "msg-g1"
    )


def test_an_anonymous_group_call_attaches_its_user_by_anonymous_id_or_context_email() -> None:
    record = {
        **SEGMENT_GROUP,
        "user_id": None,
        "email": None,
        "context_traits_email": "Ann@X.io",
    }
    plan = company(record)
    assert (plan.user_ids, plan.user_emails) == ([], ["Ann@X.io"])
    assert plan.ordering_keys == ("company:acme", "contact:email:ann@x.io")
    plan = company(record, anonymous_id_as_user_id=True)
    assert (plan.user_ids, plan.user_emails) == (["anon-1"], [])
    plan = company({**record, "context_traits_email": None})
    assert (plan.user_ids, plan.user_emails) == ([], [])
    # The call's own email names its user before its anonymous id and its context's.
    plan = company({**record, "email": "hello@acme.test"}, anonymous_id_as_user_id=True)
    assert (plan.user_ids, plan.user_emails) == ([], ["hello@acme.test"])
    assert plan.custom_attributes == {}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"user_email": "a@x.io"}, ["a@x.io"]),
        ({"user_emails": ["a@x.io", " b@x.io ", None, "", "A@X.IO"]}, ["a@x.io", "b@x.io"]),
        ({"user_email": "c@x.io", "user_emails": ["a@x.io", "C@x.io"]}, ["c@x.io", "a@x.io"]),
        ({"user_emails": None}, []),
        ({"user_emails": []}, []),
    ],
)
def test_members_by_email(record: dict[str, Any], expected: list[str]) -> None:
    plan = company({"company_id": "c1", **record})
    assert plan.user_emails == expected
    assert plan.custom_attributes == {}
    assert plan.ordering_keys[1:] == tuple(f"contact:email:{e.lower()}" for e in expected)


def test_members_by_id_and_by_email_together() -> None:
    plan = company({"company_id": "c1", "user_ids": ["u1"], "user_emails": ["b@x.io"]})
    assert (plan.user_ids, plan.user_emails) == (["u1"], ["b@x.io"])


@pytest.mark.parametrize(
    ("record", "code", "start"),
    [
        ({"user_emails": "a@x.io"}, "bad_user_emails", "user_emails must be a list"),
        ({"user_emails": ["u1"]}, "bad_user_emails", "user_emails holds str 'u1'"),
        ({"user_email": "nobody"}, "bad_user_emails", "user_email holds str 'nobody'"),
        ({"user_emails": [{"email": "a@x.io"}]}, "bad_value", "user_emails must be a single"),
    ],
)
def test_bad_member_emails_are_record_errors(record: dict[str, Any], code: str, start: str) -> None:
    with pytest.raises(MappingError) as caught:
        company({"company_id": "c1", **record})
    assert caught.value.code == code
    assert caught.value.message.startswith(start)
    assert "\n" not in caught.value.message


def test_a_company_object_on_a_user_with_member_emails_is_upserted() -> None:
    [link] = contact({"id": "u1", "company": {"id": "c1", "user_emails": ["b@x.io"]}}).companies
    assert link.company is not None
    assert link.company.user_emails == ["b@x.io"]
    assert contact({"id": "u1", "company": {"id": "c1"}}).companies == [
        CompanyLink(company_id="c1", remove=False, company=None)
    ]


def test_anonymous_id_is_never_a_company_attribute() -> None:
    plan = company({"company_id": "c1", "anonymousId": "a1"})
    assert plan.custom_attributes == {}
    assert plan.user_ids == []


# --- events: tracks and per-event tables -------------------------------------------------------

ORDER_COMPLETED = {
    "id": "msg-e1",
    "user_id": "u1",
    "anonymous_id": "anon-1",
    "event": "order_completed",
    "event_text": "Order Completed",
    "order_id": "o-1",
    "name": "frappe",
    "revenue": Decimal("29.99"),
    "currency": "EUR",
    "created_at": "2023-12-31",
    **PIPELINE,
    **RUDDER,
    "context_traits_email": "ann@x.io",
}


def test_a_per_event_table_row_is_its_event() -> None:
    plan = event(ORDER_COMPLETED)
    assert plan.payload == {
        "event_name": "Order Completed",
        "created_at": JAN_1_2024,
        "user_id": "u1",
        "metadata": {
            "price": {"amount": 2999, "currency": "eur"},
            "created_at": "2023-12-31",
            "name": "frappe",
            "order_id": "o-1",
        },
    }
    assert plan.warnings == []


def test_a_tracks_row_without_event_text_is_named_by_its_slug() -> None:
    record = {"id": "m1", "user_id": "u1", "event": "signed_up", **PIPELINE}
    plan = event(record)
    assert (plan.payload["event_name"], plan.payload["created_at"]) == ("signed_up", JAN_1_2024)
    assert "metadata" not in plan.payload


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ({}, JAN_1_2024),
        ({"timestamp": None}, JAN_1_2024 + 3),
        ({"timestamp": None, "original_timestamp": None}, JAN_1_2024 + 4),
        ({"timestamp": None, "original_timestamp": None, "sent_at": ""}, JAN_1_2024 + 5),
    ],
)
def test_the_event_time_is_timestamp_then_original_then_sent_then_received(
    times: dict[str, Any], expected: int
) -> None:
    plan = event({**ORDER_COMPLETED, **times})
    assert plan.payload["created_at"] == expected


def test_a_message_row_with_no_time_names_the_columns_it_looked_at() -> None:
    times = dict.fromkeys(("timestamp", "original_timestamp", "sent_at", "received_at"))
    with pytest.raises(MappingError) as caught:
        event({**ORDER_COMPLETED, **times})
    assert caught.value.code == "no_created_at"
    assert "(looked in timestamp, original_timestamp, sent_at, received_at)" in (
        caught.value.message
    )


def test_a_created_at_date_column_of_an_event_table_is_a_date_property() -> None:
    schema = RecordSchema({"properties": {"created_at": {"type": "string", "format": "date"}}})
    plan = event(
        {**ORDER_COMPLETED, "created_at": datetime(2024, 1, 1, tzinfo=timezone.utc)}, schema
    )
    assert plan.payload["metadata"]["created_at_date"] == JAN_1_2024


def test_an_event_without_a_user_id_uses_context_traits_email() -> None:
    plan = event({**ORDER_COMPLETED, "user_id": None})
    assert "user_id" not in plan.payload
    assert plan.payload["email"] == "ann@x.io"


def test_an_anonymous_event_is_sent_by_anonymous_id_when_the_setting_says_so() -> None:
    record = {**ORDER_COMPLETED, "user_id": None, "context_traits_email": None}
    with pytest.raises(MappingError) as caught:
        event(record)
    # Not sent, as Segment and RudderStack drop an anonymous call: not a record error.
    assert caught.value.code == "anonymous_call"
    assert "set anonymous_id_as_user_id" in caught.value.message
    plan = event(record, anonymous_id_as_user_id=True)
    assert plan.payload["user_id"] == "anon-1"
    assert plan.ordering_keys == ("contact:external_id:anon-1",)


@pytest.mark.parametrize("source", ["anonymous_id", "anonymousId"])
def test_anonymous_events_of_plain_records(source: str) -> None:
    plan = event({"event": "e", "created_at": 1, source: "a1"}, anonymous_id_as_user_id=True)
    assert plan.payload["user_id"] == "a1"
    assert "metadata" not in plan.payload


def test_a_real_user_id_and_an_email_beat_the_anonymous_id() -> None:
    plan = event(
        {"event": "e", "created_at": 1, "anonymous_id": "a1", "userId": "u1"},
        anonymous_id_as_user_id=True,
    )
    assert plan.payload["user_id"] == "u1"


def test_an_event_table_row_is_all_metadata_when_warehouse_columns_is_off() -> None:
    plan = event(ORDER_COMPLETED, warehouse_columns=False)
    assert plan.payload["event_name"] == "order_completed"
    assert plan.payload["created_at"] == to_unix_seconds("2023-12-31", "created_at")
    assert list(plan.payload["metadata"]) == [
        "price",
        "channel",
        "context_destination_id",
        "context_destination_type",
        "context_ip",
        "context_library_name",
        "context_library_version",
        "context_request_ip",
        "context_source_id",
        "context_source_type",
    ]
    assert [w.key for w in plan.warnings] == ["metadata_keys:order_completed"]


def test_a_plain_event_table_keeps_its_id_column() -> None:
    record = {"id": "o-1", "event_name": "paid", "name": "x", "user_id": "u1", "created_at": 1}
    # `name` is an alias of the event's name there (consumed), as before.
    assert event(record).payload["metadata"] == {"id": "o-1"}


def test_context_traits_user_id_names_the_events_contact() -> None:
    plan = event({"event": "e", "created_at": 1, "context": {"traits": {"userId": "u9"}}})
    assert plan.payload["user_id"] == "u9"
