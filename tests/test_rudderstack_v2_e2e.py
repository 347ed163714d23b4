"""RudderStack v2's Intercom destination, feature by feature, as warehouse rows through the
target into the fake Intercom, in both row shapes users have:

- "json": a call as a JSON record, its `context` a nested object and its traits top-level
  columns (a stream of the calls as RudderStack sends them, or a JSON column expanded);
- "warehouse": a row of RudderStack's warehouse tables (`identifies`, `groups`, `tracks`, one
  table per event), the context flattened into `context_traits_*` columns (RudderStack
  lower-cases them: `context_traits_monthlyspend`; an array is its JSON text), `id` the
  message id, and the
  bookkeeping columns (`received_at`, `uuid_ts`, ...) beside them.

RudderStack's v2 destination fills the contact's user id from `context.traits.id` too, the
group's company from `context.traits`, and sends a lead's events by its Intercom id
(`properties.id`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import INT, LIST, STR, config_for, record, run_target, schema
from tests.warehouse_columns import CALL_COLUMNS

SHAPES = ("json", "warehouse")
T0 = "2024-01-01T00:00:00+00:00"
T0_UNIX = 1704067200
OBJECT = {"type": ["object", "null"]}


def call(shape: str, message_id: str, traits: dict[str, Any], **columns: Any) -> dict[str, Any]:
    """One call in `shape`: its own `columns`, and `traits` riding in its context."""
    if shape == "json":
        return {**columns, "context": {"traits": traits}} if traits else columns
    # A warehouse keeps a flattened array as its JSON text.
    flat = {
        f"context_traits_{name.lower()}": json.dumps(value) if isinstance(value, list) else value
        for name, value in traits.items()
    }
    return {
        "id": message_id,
        "timestamp": T0,
        "original_timestamp": T0,
        "sent_at": T0,
        "received_at": T0,
        "uuid_ts": T0,
        "channel": "server",
        **columns,
        **flat,
    }


def stream_schema(stream: str, shape: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The stream's schema: every column of `rows`, typed from its values."""
    columns: dict[str, Any] = dict(CALL_COLUMNS) if shape == "warehouse" else {}
    for row in rows:
        for name, value in row.items():
            columns.setdefault(name, _type_of(value))
    return schema(stream, columns)


def _type_of(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return OBJECT
    if isinstance(value, list):
        return LIST
    if isinstance(value, bool) or not isinstance(value, int):
        return STR
    return INT


def load(stream: str, shape: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [stream_schema(stream, shape, rows), *(record(stream, row) for row in rows)]


@pytest.mark.parametrize("shape", SHAPES)
def test_identify_takes_the_external_id_from_context_traits_id(fake, tmp_path, shape):
    row = call(shape, "msg-i1", {"id": "u1", "email": "ann@example.com"}, user_id=None)
    run = run_target(config_for(fake), load("users", shape, [row]), tmp_path)
    assert run.returncode == 0, run.stderr
    (ann,) = fake.contacts()
    assert (ann["external_id"], ann["email"]) == ("u1", "ann@example.com")


@pytest.mark.parametrize("shape", SHAPES)
def test_a_track_names_its_user_by_context_traits_id(fake, tmp_path, shape):
    contact_id = fake.seed_contact(external_id="u1", email="ann@example.com")
    row = call(
        shape,
        "msg-e1",
        {"id": "u1"},
        user_id=None,
        event="Signed Up" if shape == "json" else "signed_up",
        **({"timestamp": T0} if shape == "json" else {"event_text": "Signed Up"}),
    )
    run = run_target(config_for(fake), load("events", shape, [row]), tmp_path)
    assert run.returncode == 0, run.stderr
    (event,) = fake.events()
    assert (event["event_name"], event["intercom_user_id"]) == ("Signed Up", contact_id)
    assert event["created_at"] == T0_UNIX


@pytest.mark.parametrize("shape", SHAPES)
def test_a_track_prefers_the_rows_own_user_id_to_context_traits_id(fake, tmp_path, shape):
    own = fake.seed_contact(external_id="u1", email="ann@example.com")
    fake.seed_contact(external_id="u2", email="bob@example.com")
    row = call(
        shape,
        "msg-e2",
        {"id": "u2"},
        user_id="u1",
        event="Signed Up" if shape == "json" else "signed_up",
        **({"timestamp": T0} if shape == "json" else {"event_text": "Signed Up"}),
    )
    run = run_target(config_for(fake), load("events", shape, [row]), tmp_path)
    assert run.returncode == 0, run.stderr
    assert [e["intercom_user_id"] for e in fake.events()] == [own]


GROUP_TRAITS = {
    "name": "Acme",
    "plan": "enterprise",
    "employees": 120,
    "industry": "Anvils",
    "website": "https://acme.example",
    "monthlySpend": 990,
    "remoteCreatedAt": T0,
    "tags": ["vip", "emea"],
}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_group_fills_the_company_from_context_traits(fake, tmp_path, shape):
    rows = [
        call(shape, "msg-g1", GROUP_TRAITS, group_id="acme", user_id=None),
        # The row's own fields win over its context's.
        call(shape, "msg-g2", GROUP_TRAITS, group_id="globex", user_id=None, name="Globex"),
    ]
    run = run_target(config_for(fake), load("companies", shape, rows), tmp_path)
    assert run.returncode == 0, run.stderr
    companies = {c["company_id"]: c for c in fake.companies()}
    acme = companies["acme"]
    assert (acme["plan"]["name"], acme["size"], acme["industry"]) == ("enterprise", 120, "Anvils")
    # A call's traits are the user's: their name and site are not the company's.
    assert not acme.get("name") and not acme.get("website")
    assert (acme["monthly_spend"], acme["remote_created_at"]) == (990, T0_UNIX)
    assert acme["custom_attributes"] == {}
    assert companies["globex"]["name"] == "Globex"
    assert fake.company_tags() == {(c, t) for c in ("acme", "globex") for t in ("vip", "emea")}


@pytest.mark.parametrize("shape", SHAPES)
def test_group_counts_and_segments_are_dropped_with_one_notice_each(fake, tmp_path, shape):
    counts = (
        {"userCount": 12, "sessionCount": 40, "segments": "active"}
        if shape == "json"
        # A warehouse lower-cases the camelCase traits it makes columns of.
        else {"usercount": 12, "sessioncount": 40, "segments": "active"}
    )
    rows = [
        call(shape, "msg-g3", {}, group_id="acme", user_id=None, name="Acme", **counts),
        call(shape, "msg-g4", {}, group_id="globex", user_id=None, name="Globex", **counts),
    ]
    # The default unknown_attributes: a count sent as a custom attribute refused the company.
    run = run_target(config_for(fake), load("companies", shape, rows), tmp_path)
    assert run.returncode == 0, run.stderr
    companies = {c["company_id"]: c for c in fake.companies()}
    assert set(companies) == {"acme", "globex"}
    assert all(c["custom_attributes"] == {} for c in companies.values())
    assert [a for a in fake.data_attributes("company") if a["custom"]] == []
    for name in counts:
        assert run.stderr.count(f"Company records carry {name}, which is read-only") == 1


@pytest.mark.parametrize(
    ("shape", "named_by"),
    [("json", "properties.id"), ("json", "intercom_contact_id"), ("warehouse", "column")],
)
def test_an_event_by_the_contacts_intercom_id_reaches_a_lead(fake, tmp_path, shape, named_by):
    lead = fake.seed_contact(email="lead@example.com", role="lead")
    if shape == "json":
        who = {"intercom_contact_id": lead} if named_by == "intercom_contact_id" else {}
        properties = {"page": "/pricing", **({"id": lead} if named_by == "properties.id" else {})}
        row = call(
            shape, "", {}, event="Viewed Pricing", timestamp=T0, properties=properties, **who
        )
    else:
        row = call(
            shape,
            "msg-e3",  # the message id: never the contact
            {},
            event="viewed_pricing",
            event_text="Viewed Pricing",
            user_id=None,
            intercom_contact_id=lead,
            page="/pricing",
        )
    messages = load("events", shape, [row])
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    (event,) = fake.events()
    assert (event["event_name"], event["intercom_user_id"]) == ("Viewed Pricing", lead)
    assert event["metadata"] == {"page": "/pricing"}
    # The same event again is known by the same id: no second call.
    calls = fake.call_counts()["POST /events"]
    assert run_target(config_for(fake), messages, tmp_path).returncode == 0
    assert fake.call_counts()["POST /events"] == calls


@pytest.mark.parametrize("shape", SHAPES)
def test_an_event_by_an_intercom_id_intercom_lacks_is_a_record_error_at_once(fake, tmp_path, shape):
    if shape == "json":
        row = call(shape, "", {}, event="Viewed", timestamp=T0, properties={"id": "nope"})
    else:
        row = call(
            shape, "msg-e4", {}, event_text="Viewed", user_id=None, intercom_contact_id="nope"
        )
    dead = tmp_path / "dead.jsonl"
    config = config_for(fake, on_record_error="skip", dead_letter_path=str(dead))
    run = run_target(config, load("events", shape, [row]), tmp_path)
    assert run.returncode == 0, run.stderr
    (letter,) = [json.loads(line) for line in dead.read_text().splitlines()]
    assert letter["error_code"] == "contact_not_found"
    assert (
        "names Intercom contact id 'nope', which Intercom does not have"
        in (letter["error_message"])
    )
    assert fake.events() == []


@pytest.mark.parametrize("shape", SHAPES)
def test_an_event_by_a_merged_contacts_id_goes_to_the_contact_intercom_kept(fake, tmp_path, shape):
    lead = fake.seed_contact(email="lead@example.com", role="lead")
    user = fake.seed_contact(external_id="u1", email="ann@example.com")
    fake.merge_contacts(lead, user)
    if shape == "json":
        row = call(shape, "", {}, event="Viewed", timestamp=T0, properties={"id": lead})
    else:
        row = call(shape, "msg-e5", {}, event_text="Viewed", user_id=None, intercom_contact_id=lead)
    run = run_target(config_for(fake), load("events", shape, [row]), tmp_path)
    assert run.returncode == 0, run.stderr
    assert [e["intercom_user_id"] for e in fake.events()] == [user]
