"""`lookup_fields` deciding create-or-update, and a group call's own user, as RudderStack's
Intercom destination (v2) has them: "RudderStack supports user lookup in identify and group
calls ... you can provide a custom field for the lookup" (its example looks users up by
`phone`), and a group call's `email` is the user to attach.

Each feature is loaded in both shapes warehouse rows come in: JSON-shaped (a message with a
nested `context`) and flattened (Segment's and RudderStack's `identifies` and `groups`
tables: `context_traits_*` columns, bookkeeping columns, `id` the message id).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import STR, config_for, record, run_target, schema
from tests.warehouse_columns import CALL_COLUMNS

PHONE = "+15550100"
SHAPES = ("json", "warehouse")
WITH_PHONE = ["external_id", "email", "phone"]


def call(message_id: str) -> dict[str, Any]:
    """The bookkeeping columns of one call in a warehouse table."""
    at = "2024-01-01T00:00:00+00:00"
    return {
        "id": message_id,
        "timestamp": at,
        "original_timestamp": at,
        "sent_at": at,
        "received_at": at,
        "uuid_ts": at,
    }


def identify(shape: str, user_id: str, traits: dict[str, Any], n: int = 0) -> list[dict]:
    """An identify call whose traits ride in its context (as RudderStack's SDKs send them)."""
    if shape == "json":
        return [
            schema("users", {"user_id": STR, "context": {"type": ["object", "null"]}}),
            record("users", {"user_id": user_id, "context": {"traits": traits}}),
        ]
    columns = {f"context_traits_{name}": value for name, value in traits.items()}
    return [
        schema(
            "users",
            {**CALL_COLUMNS, "id": STR, "user_id": STR, **dict.fromkeys(columns, STR)},
            ["id"],
        ),
        record("users", {**call(f"msg-i{n}-{user_id}"), "user_id": user_id, **columns}),
    ]


def group(shape: str, own: dict[str, Any], traits: dict[str, Any] | None = None) -> list[dict]:
    """A group call for company `acme`: `own` are the call's own traits (columns), `traits`
    the user's, in its context."""
    traits = traits or {}
    if shape == "json":
        body = {"group_id": "acme", "name": "Acme", **own, "context": {"traits": traits}}
        return [
            schema(
                "companies",
                {"group_id": STR, "name": STR, **dict.fromkeys(own, STR), "context": {}},
            ),
            record("companies", body),
        ]
    columns = {f"context_traits_{name}": value for name, value in traits.items()}
    properties = {**CALL_COLUMNS, "id": STR, "group_id": STR, "name": STR}
    properties |= dict.fromkeys([*own, *columns], STR)
    return [
        schema("companies", properties, ["id"]),
        record(
            "companies", {**call("msg-g1"), "group_id": "acme", "name": "Acme", **own, **columns}
        ),
    ]


def dead_letters(tmp_path) -> list[dict]:
    path = tmp_path / "target-intercom.dead-letter.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def searches(fake) -> int:
    return fake.call_counts()["POST /contacts/search"]


# ------------------------------------------------------------------ identify


@pytest.mark.parametrize("shape", SHAPES)
def test_identify_updates_the_contact_holding_its_phone_and_gives_it_the_external_id(
    fake, tmp_path, shape
):
    held = fake.seed_contact(phone=PHONE, name="Someone")
    messages = identify(shape, "u1", {"phone": PHONE, "email": "ann@acme.io", "name": "Ann"})
    run = run_target(config_for(fake, lookup_fields=WITH_PHONE), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [contact] = fake.contacts()  # no second contact
    assert (contact["id"], contact["external_id"]) == (held, "u1")
    assert (contact["email"], contact["name"], contact["phone"]) == ("ann@acme.io", "Ann", PHONE)
    # One search by email (a user added by email alone would be claimed: workspace_index.py),
    # one by phone.
    assert searches(fake) == 2
    # What was learnt is kept: the next run updates the contact by its id, no search.
    fake.reset_calls()
    again = identify(shape, "u1", {"phone": PHONE, "email": "ann@acme.io", "name": "Ann B"})
    assert run_target(config_for(fake, lookup_fields=WITH_PHONE), again, tmp_path).returncode == 0
    [contact] = fake.contacts()
    assert (contact["id"], contact["name"]) == (held, "Ann B")
    assert searches(fake) == 0


@pytest.mark.parametrize("shape", SHAPES)
def test_a_phone_several_contacts_hold_is_a_record_error_naming_them(fake, tmp_path, shape):
    first = fake.seed_contact(phone=PHONE, name="One")
    second = fake.seed_contact(phone=PHONE, name="Two")
    messages = identify(shape, "u1", {"phone": PHONE, "name": "Ann"})
    config = config_for(fake, lookup_fields=WITH_PHONE, on_record_error="skip")
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert sorted(c["name"] for c in fake.contacts()) == ["One", "Two"]
    [letter] = dead_letters(tmp_path)
    assert letter["error_code"] == "ambiguous_phone"
    assert first in letter["error_message"] and second in letter["error_message"]


@pytest.mark.parametrize("shape", SHAPES)
def test_a_contact_with_the_phone_and_another_external_id_is_someone_else(fake, tmp_path, shape):
    other = fake.seed_contact(external_id="x9", phone=PHONE, name="Other")
    messages = identify(shape, "u1", {"phone": PHONE, "name": "Ann"})
    run = run_target(config_for(fake, lookup_fields=WITH_PHONE), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    by_external_id = {c["external_id"]: c for c in fake.contacts()}
    assert set(by_external_id) == {"x9", "u1"}
    assert by_external_id["x9"]["id"] == other and by_external_id["x9"]["name"] == "Other"


@pytest.mark.parametrize("shape", SHAPES)
def test_a_search_per_new_contact_only_with_phone_in_lookup_fields(fake, tmp_path, shape):
    def users(n: int) -> list[dict]:
        messages: list[dict] = []
        for i in range(n):
            messages += identify(shape, f"u{i}", {"phone": f"+1555020{i}"}, i)
        return messages

    assert run_target(config_for(fake), users(5), tmp_path).returncode == 0
    assert searches(fake) == 0
    assert fake.call_counts()["POST /contacts"] == 5
    fake.reset()
    config = config_for(fake, lookup_fields=WITH_PHONE, sync_store_path=str(tmp_path / "s.db"))
    assert run_target(config, users(5), tmp_path).returncode == 0
    assert (searches(fake), fake.call_counts()["POST /contacts"]) == (5, 5)


# ------------------------------------------------------------------ group


@pytest.mark.parametrize("shape", SHAPES)
def test_a_group_call_attaches_the_user_its_own_email_names(fake, tmp_path, shape):
    ann = fake.seed_contact(external_id="u1", email="ann@acme.io")
    run = run_target(config_for(fake), group(shape, {"email": "ann@acme.io"}), tmp_path)
    assert run.returncode == 0, run.stderr
    [acme] = fake.companies()
    assert (acme["company_id"], acme["custom_attributes"]) == ("acme", {})
    assert fake.memberships() == {(ann, acme["id"])}


def test_a_plain_companies_tables_email_stays_a_company_attribute(fake, tmp_path):
    messages = [
        schema("companies", {"company_id": STR, "name": STR, "email": STR}, ["company_id"]),
        record("companies", {"company_id": "acme", "name": "Acme", "email": "billing@acme.io"}),
    ]
    run = run_target(config_for(fake, unknown_attributes="create"), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [acme] = fake.companies()
    assert acme["custom_attributes"] == {"email": "billing@acme.io"}
    assert fake.memberships() == set()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("where", ["own", "context"])
def test_a_group_call_attaches_the_user_its_phone_names(fake, tmp_path, shape, where):
    ann = fake.seed_contact(external_id="u1", phone=PHONE)
    own, traits = ({"phone": PHONE}, None) if where == "own" else ({}, {"phone": PHONE})
    config = config_for(fake, lookup_fields=WITH_PHONE)
    run = run_target(config, group(shape, own, traits), tmp_path)
    assert run.returncode == 0, run.stderr
    [acme] = fake.companies()
    assert acme["custom_attributes"] == {}
    assert fake.memberships() == {(ann, acme["id"])}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_group_calls_user_by_phone_is_attached_when_its_identify_comes(fake, tmp_path, shape):
    # Search lags behind creates: the contact made by the identify is found without it.
    fake.configure(search_lag=600)
    messages = group(shape, {}, {"phone": PHONE}) + identify(shape, "u1", {"phone": PHONE})
    run = run_target(config_for(fake, lookup_fields=WITH_PHONE), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [ann] = fake.contacts()
    [acme] = fake.companies()
    assert fake.memberships() == {(ann["id"], acme["id"])}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_group_calls_phone_several_contacts_hold_is_an_error_naming_them(fake, tmp_path, shape):
    first = fake.seed_contact(external_id="u1", phone=PHONE)
    second = fake.seed_contact(external_id="u2", phone=PHONE)
    config = config_for(fake, lookup_fields=WITH_PHONE, on_record_error="skip")
    run = run_target(config, group(shape, {}, {"phone": PHONE}), tmp_path)
    assert run.returncode == 0, run.stderr
    assert fake.memberships() == set()
    [letter] = dead_letters(tmp_path)
    assert letter["error_code"] == "ambiguous_phone"
    assert first in letter["error_message"] and second in letter["error_message"]


@pytest.mark.parametrize("shape", SHAPES)
def test_without_phone_in_lookup_fields_a_group_calls_phone_is_a_company_attribute(
    fake, tmp_path, shape
):
    fake.seed_contact(external_id="u1", phone=PHONE)
    config = config_for(fake, unknown_attributes="create")
    run = run_target(config, group(shape, {"phone": PHONE}, {"phone": PHONE}), tmp_path)
    assert run.returncode == 0, run.stderr
    [acme] = fake.companies()
    assert acme["custom_attributes"] == {"phone": PHONE}
    assert fake.memberships() == set()
    assert searches(fake) == 0
