"""The target against the harder rules of Intercom that the fake reproduces: 409s that name
no contact, merged contacts (410), archived and refused attribute names, the cap on
custom attributes, the 120-event-name cap (422) and event names compared without case."""

from __future__ import annotations

import json

from fake_intercom import Faults

from tests.conftest import INT, STR, config_for, record, run_target, schema, state

USERS = schema("users", {"id": STR, "email": STR, "name": STR, "tier": STR}, ["id"])
EVENTS = schema("events", {"event": STR, "user_id": STR, "timestamp": INT})


def dead_letters(tmp_path) -> list[dict]:
    path = tmp_path / "target-intercom.dead-letter.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_spurious_conflicts_are_tried_again_and_every_user_lands_once(fake, tmp_path):
    # One worker: the fake draws its faults from one seeded sequence in the order the
    # creates come, so every run meets the same conflicts. Seed 1 gives five creates two
    # conflicts in a row (both retry waits) and none three, which no retry would resolve.
    faults = Faults(rate=0.3, kinds=["409_conflict"], seed=1, paths=["POST /contacts"])
    fake.configure(faults=faults)
    users = [record("users", {"id": f"u{i}", "email": f"u{i}@acme.io"}) for i in range(30)]
    run = run_target(config_for(fake, max_concurrency=1), [USERS, *users], tmp_path)
    assert run.returncode == 0, run.stderr
    assert sorted(c["external_id"] for c in fake.contacts()) == sorted(f"u{i}" for i in range(30))
    conflicts = [c for c in fake.calls() if c.route == "POST /contacts" and c.status == 409]
    assert len(conflicts) >= 5


def test_an_email_several_users_hold_names_none_of_them(fake, tmp_path):
    fake.seed_contact(external_id="x1", email="team@acme.io", name="Ann")
    fake.seed_contact(external_id="x2", email="team@acme.io", name="Bob")
    messages = [
        schema("users", {"email": STR, "name": STR}),
        record("users", {"email": "team@acme.io", "name": "Team"}),
        state({"at": 1}),
    ]
    run = run_target(config_for(fake, on_record_error="skip"), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert sorted(c["name"] for c in fake.contacts()) == ["Ann", "Bob"]
    [letter] = dead_letters(tmp_path)
    assert letter["error_code"] == "ambiguous_email"
    assert "2 contacts in Intercom hold the email 'team@acme.io'" in letter["error_message"]
    assert run.states == [{"at": 1}]


def test_a_contact_merged_away_mid_run_is_written_to_the_one_it_was_merged_into(fake, tmp_path):
    other = fake.seed_contact(external_id="keeper", email="keeper@acme.io")

    def merge_after_first(value: dict) -> None:
        if value == {"at": 1}:
            [merged] = [c["id"] for c in fake.contacts() if c["external_id"] == "u1"]
            fake.merge_contacts(merged, other)

    messages = [
        USERS,
        record("users", {"id": "u1", "email": "u1@acme.io", "name": "First"}),
        state({"at": 1}),
        record("users", {"id": "u1", "email": "u1@acme.io", "name": "Second"}),
        state({"at": 2}),
    ]
    # One worker: the second record starts only after the STATE that triggers the merge.
    config = config_for(fake, max_concurrency=1)
    run = run_target(config, messages, tmp_path, on_state=merge_after_first)
    assert run.returncode == 0, run.stderr
    # Not lost, nor made again: the 410's Link names the contact Intercom kept.
    [kept] = fake.contacts()
    assert (kept["id"], kept["external_id"], kept["name"]) == (other, "keeper", "Second")
    assert any(c.status == 410 for c in fake.calls())


def test_an_archived_attribute_is_named_as_such_and_asked_about_once(fake, tmp_path):
    fake.seed_data_attribute("tier", "string", archived=True)
    users = [record("users", {"id": f"u{i}", "tier": "gold"}) for i in range(3)]
    users.append(record("users", {"id": "u9"}))  # delivered: the run is not all rejections
    config = config_for(fake, on_record_error="skip", unknown_attributes="create")
    run = run_target(config, [USERS, *users], tmp_path)
    assert run.returncode == 0, run.stderr
    letters = dead_letters(tmp_path)
    assert len(letters) == 3
    assert "contact attribute 'tier' is archived in Intercom" in letters[0]["error_message"]
    creates = [c for c in fake.calls() if c.route == "POST /data_attributes"]
    assert len(creates) == 1


def test_a_column_name_intercom_refuses_is_created_under_a_name_it_takes(fake, tmp_path):
    messages = [
        schema("users", {"id": STR, "plan:name": STR}, ["id"]),
        record("users", {"id": "u1", "plan:name": "pro"}),
    ]
    run = run_target(config_for(fake, unknown_attributes="create"), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [contact] = fake.contacts()
    assert contact["custom_attributes"] == {"plan_name": "pro"}
    assert "Column 'plan:name' is sent as contact attribute 'plan_name'" in run.stderr


def test_the_custom_attribute_cap_is_reported_per_record(fake, tmp_path):
    fake.configure(max_custom_attributes=1)
    fake.seed_data_attribute("seats", "integer")
    config = config_for(fake, on_record_error="skip", unknown_attributes="create")
    run = run_target(config, [USERS, record("users", {"id": "u1", "tier": "gold"})], tmp_path)
    assert run.returncode == 0, run.stderr
    [letter] = dead_letters(tmp_path)
    assert "Intercom would not create the contact attribute 'tier'" in letter["error_message"]
    assert "limit of 1 custom attributes" in letter["error_message"]


def test_a_new_event_name_past_the_cap_is_reported_and_the_rest_land(fake, tmp_path):
    fake.configure(max_event_names=1)
    fake.seed_contact(external_id="u1")
    events = [
        record("events", {"event": "signed_up", "user_id": "u1", "timestamp": 1700000000}),
        record("events", {"event": "paid", "user_id": "u1", "timestamp": 1700000001}),
        record("events", {"event": "signed_up", "user_id": "u1", "timestamp": 1700000002}),
    ]
    run = run_target(config_for(fake, on_record_error="skip"), [EVENTS, *events], tmp_path)
    assert run.returncode == 0, run.stderr
    assert [e["event_name"] for e in fake.events()] == ["signed_up", "signed_up"]
    [letter] = dead_letters(tmp_path)
    assert letter["record"]["event"] == "paid"
    assert "422" in letter["error_message"]
    assert "Cannot have more than 1 active event names" in letter["error_message"]


def test_event_names_differing_only_in_case_are_one_event(fake, tmp_path):
    fake.seed_contact(external_id="u1")
    events = [
        record("events", {"event": "Signed Up", "user_id": "u1", "timestamp": 1700000000}),
        record("events", {"event": "signed up", "user_id": "u1", "timestamp": 1700000000}),
    ]
    run = run_target(config_for(fake), [EVENTS, *events], tmp_path)
    assert run.returncode == 0, run.stderr
    assert [e["event_name"] for e in fake.events()] == ["Signed Up"]


def test_a_wrong_path_prefix_fails_the_run_before_any_record(fake, tmp_path):
    config = {**config_for(fake, on_record_error="skip"), "api_base_url": fake.url + "/v2"}
    messages = [USERS, record("users", {"id": "u1"}), state({"at": 1})]
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 1
    assert f"{fake.url}/v2 answered 404 to GET /me" in run.stderr
    assert "is api_base_url the API's root" in run.stderr
    assert run.states == []
    assert dead_letters(tmp_path) == []
    assert [c.route for c in fake.calls()] == ["GET /v2/me"]


def test_a_bad_token_is_the_first_and_only_error(fake, tmp_path):
    config = {**config_for(fake), "access_token": "not-the-fake-token"}
    messages = [USERS, "{not json", record("users", {"id": "u1"})]
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 1
    assert "Intercom refused the access token (401" in run.stderr
    assert "not valid JSON" not in run.stderr
    assert len(fake.calls()) == 1


def test_columns_named_like_standard_attributes_are_not_sent_and_nothing_is_lost(fake, tmp_path):
    stream = schema(
        "users",
        {
            "id": STR,
            "plan": STR,
            "country": STR,
            "city": STR,
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
        },
        ["id"],
    )
    rows = [
        record(
            "users",
            {
                "id": f"u{i}",
                "plan": "pro",
                "country": "FR",
                "city": "Lyon",
                "updated_at": "2024-05-01T00:00:00Z",
            },
        )
        for i in range(20)
    ]
    config = config_for(fake, on_record_error="skip", unknown_attributes="create")
    run = run_target(config, [stream, *rows, state({"at": 20})], tmp_path)
    assert run.returncode == 0, run.stderr
    assert dead_letters(tmp_path) == []
    assert len(fake.contacts()) == 20
    assert all(c["custom_attributes"] == {"plan": "pro"} for c in fake.contacts())
    custom = [a["name"] for a in fake.data_attributes("contact") if a["custom"]]
    assert custom == ["plan"]
    assert fake.call_counts()["POST /data_attributes"] == 1
    for name in ("updated_at", "country", "city"):
        assert run.stderr.count(f"Column '{name}' is not sent") == 1
    assert "Created contact attribute 'updated_at'" not in run.stderr
    assert run.states == [{"at": 20}]
