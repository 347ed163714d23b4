"""Shapes real sources send: leads as Intercom has them (events reach a lead only by its
Intercom id, an update never turns a user back into a lead), companies naming their users
by email, and JavaScript date texts in date-time columns."""

from __future__ import annotations

from tests.conftest import INT, STR, config_for, record, run_target, schema

LEADS = schema("users", {"email": STR, "role": STR})
EVENTS = schema("events", {"event": STR, "email": STR, "timestamp": INT})


def lead_event(email: str) -> dict:
    return record("events", {"event": "viewed_pricing", "email": email, "timestamp": 1700000000})


def test_an_event_reaches_a_lead_this_run_created_by_its_id(fake, tmp_path):
    messages = [
        LEADS,
        record("users", {"email": "l1@acme.io", "role": "lead"}),
        EVENTS,
        lead_event("l1@acme.io"),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [lead] = fake.contacts()
    [event] = fake.events()
    assert (lead["role"], event["intercom_user_id"]) == ("lead", lead["id"])


def test_an_event_reaches_a_lead_made_before_the_run(fake, tmp_path):
    lead_id = fake.seed_contact(email="l2@acme.io", role="lead")
    run = run_target(config_for(fake), [EVENTS, lead_event("l2@acme.io")], tmp_path)
    assert run.returncode == 0, run.stderr
    assert [e["intercom_user_id"] for e in fake.events()] == [lead_id]


def test_a_lead_record_for_a_user_leaves_it_a_user(fake, tmp_path):
    fake.seed_contact(email="u1@acme.io", role="user")
    messages = [schema("users", {"email": STR, "role": STR, "name": STR})]
    messages.append(record("users", {"email": "u1@acme.io", "role": "lead", "name": "Ann"}))
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [contact] = fake.contacts()
    assert (contact["role"], contact["name"]) == ("user", "Ann")


def test_a_company_can_name_its_users_by_email_in_any_stream_order(fake, tmp_path):
    messages = [
        schema("companies", {"id": STR, "name": STR, "user_emails": {"type": "array"}}, ["id"]),
        record(
            "companies", {"id": "c1", "name": "Acme", "user_emails": ["a@acme.io", "b@acme.io"]}
        ),
        schema("users", {"id": STR, "email": STR}, ["id"]),
        record("users", {"id": "a", "email": "a@acme.io"}),
        record("users", {"id": "b", "email": "b@acme.io"}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(fake.memberships()) == 2


def test_a_javascript_date_in_a_date_time_column_is_read(fake, tmp_path):
    messages = [
        schema(
            "users", {"id": STR, "createdAt": {"type": ["string", "null"], "format": "date-time"}}
        ),
        record("users", {"id": "u1", "createdAt": "Mon May 19 2019 18:34:24 GMT+0000 (UTC)"}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [contact] = fake.contacts()
    assert contact["signed_up_at"] == 1558290864
