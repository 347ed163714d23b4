"""Rows of Segment's and RudderStack's warehouse tables, loaded through the target into the
fake Intercom, each table's stream aliased with `stream_maps` as a tap would name it.

The tables have the columns those tools document (Segment, "Warehouse Schemas";
RudderStack, "Warehouse Schema"):

- `identifies`: `id` is the identify call's message id, `user_id` the user; traits are
  columns; the call's context is flattened into `context_*` columns.
- `users` (one row per user): `id` is the user's id.
- `groups`: `id` is the message id, `group_id` the company, `user_id` its member.
- `tracks` and one table per event (`order_completed`): `event` is the table's slug,
  `event_text` the event's name; a per-event table holds the properties as columns.
- Every table: `received_at`, `sent_at`, `timestamp`, `original_timestamp`, `uuid_ts`;
  RudderStack adds `channel`, `context_destination_*`, `context_source_*`,
  `context_request_ip`.

`unknown_attributes: create` makes any column the target wrongly sends show up as a created
data attribute, so the attribute lists below are exact.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tests.conftest import BOOL, DATETIME, INT, STR, config_for, record, run_target, schema
from tests.warehouse_columns import CALL_COLUMNS

NUM = {"type": ["number", "null"]}
MAY_19_2019 = 1558290864  # "Mon May 19 2019 18:34:24 GMT+0000 (UTC)"
T0 = "2024-01-01T00:00:00+00:00"
T0_UNIX = 1704067200

STREAMS = {
    "segment-identifies": "users",
    "segment-users": "users",
    "rudder-identifies": "users",
    "segment-groups": "companies",
    "segment-tracks": "events",
    "rudder-order_completed": "events",
    "segment-order_refunded": "events",
}

PIPELINE_SCHEMA = {
    **CALL_COLUMNS,
    "context_ip": STR,
    "context_library_name": STR,
    "context_library_version": STR,
}
RUDDER_SCHEMA = {
    "channel": STR,
    "context_destination_id": STR,
    "context_destination_type": STR,
    "context_source_id": STR,
    "context_source_type": STR,
    "context_request_ip": STR,
}


def pipeline(message_id: str, seconds: int = 0, **extra: Any) -> dict[str, Any]:
    """The bookkeeping columns of one call made at T0 + `seconds`."""
    at = f"2024-01-01T00:00:{seconds:02d}+00:00"
    return {
        "id": message_id,
        "timestamp": at,
        "original_timestamp": f"2024-01-01T00:00:{seconds:02d}.500000+00:00",
        "sent_at": f"2024-01-01T00:00:{seconds + 1:02d}+00:00",
        "received_at": f"2024-01-01T00:00:{seconds + 2:02d}+00:00",
        "uuid_ts": f"2024-01-01T00:05:{seconds:02d}+00:00",
        "context_ip": "203.0.113.7",
        "context_library_name": "analytics-node",
        "context_library_version": "6.2.0",
        **extra,
    }


def rudder(**extra: Any) -> dict[str, Any]:
    return {
        "channel": "server",
        "context_destination_id": "2Abc",
        "context_destination_type": "POSTGRES",
        "context_source_id": "1Xyz",
        "context_source_type": "HTTP",
        "context_request_ip": "198.51.100.9",
        "context_library_name": "rudder-sdk-node",
        **extra,
    }


SEGMENT_IDENTIFIES = schema(
    "segment-identifies",
    {
        **PIPELINE_SCHEMA,
        "anonymous_id": STR,
        "user_id": STR,
        "context_active": BOOL,
        "email": STR,
        "first_name": STR,
        "last_name": STR,
        "plan": STR,
        "company": STR,
    },
    ["id"],
)
SEGMENT_USERS = schema(
    "segment-users",
    {
        "id": STR,
        "received_at": DATETIME,
        "uuid_ts": DATETIME,
        "email": STR,
        "name": STR,
        "plan": STR,
    },
    ["id"],
)
RUDDER_IDENTIFIES = schema(
    "rudder-identifies",
    {
        **PIPELINE_SCHEMA,
        **RUDDER_SCHEMA,
        "anonymous_id": STR,
        "user_id": STR,
        "plan": STR,
        "context_traits_email": STR,
        "context_traits_firstname": STR,
        "context_traits_lastname": STR,
        "context_traits_created_at": STR,
        "context_traits_plan": STR,
    },
    ["id"],
)
SEGMENT_GROUPS = schema(
    "segment-groups",
    {
        **PIPELINE_SCHEMA,
        "anonymous_id": STR,
        "user_id": STR,
        "group_id": STR,
        "name": STR,
        "employees": INT,
        "plan": STR,
        "industry": STR,
        "context_traits_email": STR,
    },
    ["id"],
)
SEGMENT_TRACKS = schema(
    "segment-tracks",
    {**PIPELINE_SCHEMA, "anonymous_id": STR, "user_id": STR, "event": STR, "event_text": STR},
    ["id"],
)
RUDDER_ORDER_COMPLETED = schema(
    "rudder-order_completed",
    {
        **PIPELINE_SCHEMA,
        **RUDDER_SCHEMA,
        "anonymous_id": STR,
        "user_id": STR,
        "event": STR,
        "event_text": STR,
        "order_id": STR,
        "name": STR,
        "revenue": NUM,
        "currency": STR,
        "context_traits_email": STR,
    },
    ["id"],
)
SEGMENT_ORDER_REFUNDED = schema(
    "segment-order_refunded",
    {
        **PIPELINE_SCHEMA,
        "anonymous_id": STR,
        "user_id": STR,
        "event": STR,
        "event_text": STR,
        "order_id": STR,
        "revenue": STR,
    },
    ["id"],
)


def users_rows() -> list[dict]:
    return [
        SEGMENT_IDENTIFIES,
        record(
            "segment-identifies",
            pipeline(
                "msg-i1",
                anonymous_id="anon-1",
                user_id="u1",
                context_active=True,
                email="ann@example.com",
                first_name="Ann",
                last_name="Lee",
                plan="pro",
                company="Initech",
            ),
        ),
        # An anonymous identify: its `id` is the call's, so the contact is known by email.
        record(
            "segment-identifies",
            pipeline(
                "msg-i2",
                1,
                anonymous_id="anon-2",
                user_id=None,
                context_active=None,
                email="visitor@example.com",
                plan="free",
            ),
        ),
        SEGMENT_USERS,
        record(
            "segment-users",
            {
                "id": "u3",
                "received_at": T0,
                "uuid_ts": T0,
                "email": "bob@example.com",
                "name": "Bob Stone",
                "plan": "team",
            },
        ),
        RUDDER_IDENTIFIES,
        # The traits only in context (as RudderStack's SDKs also send them), names
        # lower-cased, the sign-up date as JavaScript writes it.
        record(
            "rudder-identifies",
            {
                **pipeline("msg-r1", 2),
                **rudder(),
                "anonymous_id": "anon-r",
                "user_id": "r1",
                "plan": "team",
                "context_traits_email": "rita@example.com",
                "context_traits_firstname": "Rita",
                "context_traits_lastname": "Rudd",
                "context_traits_created_at": "Mon May 19 2019 18:34:24 GMT+0000 (UTC)",
                "context_traits_plan": "ignored: the identify's own plan column is the trait",
            },
        ),
    ]


def companies_rows() -> list[dict]:
    return [
        SEGMENT_GROUPS,
        record(
            "segment-groups",
            pipeline(
                "msg-g1",
                3,
                anonymous_id="anon-1",
                user_id="u1",
                group_id="acme",
                name="Acme",
                employees=120,
                plan="enterprise",
                industry="Anvils",
            ),
        ),
    ]


def events_rows() -> list[dict]:
    return [
        SEGMENT_TRACKS,
        record(
            "segment-tracks",
            pipeline(
                "msg-t1",
                4,
                anonymous_id="anon-1",
                user_id="u1",
                event="signed_up",
                event_text="Signed Up",
            ),
        ),
        RUDDER_ORDER_COMPLETED,
        record(
            "rudder-order_completed",
            {
                **pipeline("msg-o1", 5),
                **rudder(),
                "anonymous_id": "anon-r",
                "user_id": "r1",
                "event": "order_completed",
                "event_text": "Order Completed",
                "order_id": "o-77",
                "name": "frappe",
                "revenue": 29.99,
                "currency": "EUR",
                "context_traits_email": "rita@example.com",
            },
        ),
        SEGMENT_ORDER_REFUNDED,
        record(
            "segment-order_refunded",
            pipeline(
                "msg-o2",
                6,
                anonymous_id="anon-1",
                user_id="u1",
                event="order_refunded",
                event_text="Order Refunded",
                order_id="o-76",
                revenue="n/a",
            ),
        ),
    ]


def config(fake, **settings: Any) -> dict[str, Any]:
    return config_for(
        fake,
        stream_maps={stream: {"__alias__": alias} for stream, alias in STREAMS.items()},
        unknown_attributes="create",
        **settings,
    )


def by_email(fake) -> dict[str, dict[str, Any]]:
    return {c["email"]: c for c in fake.contacts()}


def created_attributes(fake, model: str) -> set[str]:
    return {a["name"] for a in fake.data_attributes(model) if a["custom"]}


def test_segment_and_rudderstack_tables_load_as_their_users_companies_and_events(fake, tmp_path):
    messages = users_rows() + companies_rows() + events_rows()
    run = run_target(config(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr

    contacts = by_email(fake)
    assert set(contacts) == {
        "ann@example.com",
        "visitor@example.com",
        "bob@example.com",
        "rita@example.com",
    }
    ann = contacts["ann@example.com"]
    assert (ann["external_id"], ann["name"], ann["role"]) == ("u1", "Ann Lee", "user")
    assert ann["custom_attributes"] == {"plan": "pro"}
    # context_active: true, as Segment's destination reads it: seen when the call was made.
    assert ann["last_seen_at"] == T0_UNIX
    visitor = contacts["visitor@example.com"]
    assert visitor["external_id"] is None  # never the identify call's message id
    assert visitor["custom_attributes"] == {"plan": "free"}
    # No context_active: Segment's Intercom destination sets last seen on every identify
    # "unless active: false", so the call's timestamp (last_seen_from_calls).
    assert visitor["last_seen_at"] == T0_UNIX + 1
    bob = contacts["bob@example.com"]
    assert (bob["external_id"], bob["name"]) == ("u3", "Bob Stone")  # users table: id is the user
    rita = contacts["rita@example.com"]
    assert (rita["external_id"], rita["name"], rita["signed_up_at"]) == (
        "r1",
        "Rita Rudd",
        MAY_19_2019,
    )
    assert rita["custom_attributes"] == {"plan": "team"}
    # No bookkeeping column became an attribute.
    assert created_attributes(fake, "contact") == {"plan"}
    assert created_attributes(fake, "company") == set()

    companies = {c["company_id"]: c for c in fake.companies()}
    initech = hashlib.md5(b"Initech").hexdigest()  # `company: "Initech"`: an id from its name
    assert set(companies) == {initech, "acme"}
    assert companies[initech]["name"] == "Initech"
    acme = companies["acme"]
    assert (acme["name"], acme["size"], acme["industry"]) == ("Acme", 120, "Anvils")
    assert acme["plan"]["name"] == "enterprise"
    assert acme["custom_attributes"] == {}
    assert fake.memberships() == {(ann["id"], companies[initech]["id"]), (ann["id"], acme["id"])}

    events = {e["event_name"]: e for e in fake.events()}
    assert set(events) == {"Signed Up", "Order Completed", "Order Refunded"}
    signed_up = events["Signed Up"]
    assert (signed_up["intercom_user_id"], signed_up["created_at"]) == (ann["id"], T0_UNIX + 4)
    assert signed_up["metadata"] == {}
    order = events["Order Completed"]
    assert (order["intercom_user_id"], order["created_at"]) == (rita["id"], T0_UNIX + 5)
    assert order["metadata"] == {
        "price": {"amount": 2999, "currency": "eur"},
        "name": "frappe",
        "order_id": "o-77",
    }
    refund = events["Order Refunded"]
    assert refund["metadata"] == {"order_id": "o-76", "revenue": "n/a"}
    assert "revenue that is not a number" in run.stderr
    assert "Traceback" not in run.stderr


def test_replaying_the_same_tables_changes_nothing(fake, tmp_path):
    messages = users_rows() + companies_rows() + events_rows()
    assert run_target(config(fake), messages, tmp_path).returncode == 0
    contacts, companies, events = fake.contacts(), fake.companies(), fake.events()
    run = run_target(config(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(fake.contacts()) == len(contacts)
    assert len(fake.companies()) == len(companies)
    assert len(fake.events()) == len(events)  # same contact, name and created_at


def test_warehouse_columns_off_sends_every_column_as_it_is(fake, tmp_path):
    messages = [
        SEGMENT_USERS,
        record(
            "segment-users",
            {
                "id": "u3",
                "received_at": T0,
                "uuid_ts": T0,
                "email": "bob@example.com",
                "name": "Bob Stone",
                "plan": "team",
            },
        ),
    ]
    run = run_target(config(fake, warehouse_columns=False), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    (bob,) = fake.contacts()
    assert bob["external_id"] == "u3"
    assert created_attributes(fake, "contact") == {"plan", "received_at", "uuid_ts"}
    assert bob["custom_attributes"] == {"plan": "team", "received_at": T0_UNIX, "uuid_ts": T0_UNIX}


def test_a_lead_is_created_by_email_without_an_external_id(fake, tmp_path):
    messages = [
        schema("segment-identifies", {**PIPELINE_SCHEMA, "user_id": STR, "email": STR}),
        record("segment-identifies", pipeline("msg-l1", user_id="l1", email="lead@example.com")),
    ]
    run = run_target(config(fake, contact_role="lead"), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    (lead,) = fake.contacts()
    assert (lead["role"], lead["email"], lead["external_id"]) == ("lead", "lead@example.com", None)
    assert "Lead records (role lead) carry an external_id, which is not sent" in run.stderr


def test_an_anonymous_group_call_attaches_the_user_its_context_names_by_email(fake, tmp_path):
    messages = [
        *users_rows(),
        SEGMENT_GROUPS,
        record(
            "segment-groups",
            pipeline(
                "msg-g2",
                7,
                anonymous_id="anon-2",
                user_id=None,
                group_id="globex",
                name="Globex",
                context_traits_email="visitor@example.com",
            ),
        ),
    ]
    run = run_target(config(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    visitor = by_email(fake)["visitor@example.com"]
    (globex,) = [c for c in fake.companies() if c["company_id"] == "globex"]
    assert (visitor["id"], globex["id"]) in fake.memberships()


def test_anonymous_events_are_sent_by_anonymous_id_with_the_setting(fake, tmp_path):
    messages = [
        SEGMENT_IDENTIFIES,
        record(
            "segment-identifies",
            pipeline("msg-a1", anonymous_id="anon-9", user_id=None, email=None, plan="free"),
        ),
        SEGMENT_TRACKS,
        record(
            "segment-tracks",
            pipeline(
                "msg-a2",
                1,
                anonymous_id="anon-9",
                user_id=None,
                event="viewed_pricing",
                event_text="Viewed Pricing",
            ),
        ),
    ]
    run = run_target(config(fake, anonymous_id_as_user_id=True), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    (visitor,) = fake.contacts()
    assert visitor["external_id"] == "anon-9"
    (viewed,) = fake.events()
    assert (viewed["event_name"], viewed["intercom_user_id"]) == ("Viewed Pricing", visitor["id"])
