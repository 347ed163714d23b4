"""The users stream end to end against the fake Intercom, checking what it holds. The runs are
in process (the CLI's code path); the first test runs the real CLI, as a user would."""

from __future__ import annotations

from tests.conftest import (
    BOOL,
    DATETIME,
    INT,
    STR,
    TOKEN,
    config_for,
    record,
    run_cli,
    run_target,
    schema,
    state,
)
from tests.store_runs import by_external_id

USERS = schema(
    "users",
    {
        "id": STR,
        "email": STR,
        "first_name": STR,
        "last_name": STR,
        "plan": STR,
        "seats": INT,
        "beta": BOOL,
        "created_at": DATETIME,
        "address": {
            "type": ["object", "null"],
            "properties": {"city": STR, "zip": STR},
        },
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
    },
    ["id"],
)


def seed_attributes(fake, *names_types: tuple[str, str]) -> None:
    for name, data_type in names_types:
        fake.seed_data_attribute(name, data_type)


def test_users_land_with_fields_attributes_and_tags(fake, tmp_path):
    seed_attributes(
        fake,
        ("plan", "string"),
        ("seats", "integer"),
        ("beta", "boolean"),
        ("address_city", "string"),
        ("address_zip", "string"),
    )
    messages = [
        USERS,
        record(
            "users",
            {
                "id": "u1",
                "email": "ada@example.com",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "plan": "pro",
                "seats": 3,
                "beta": True,
                "created_at": "2024-01-02T03:04:05Z",
                "address": {"city": "London", "zip": "N1"},
                "tags": ["vip", "beta"],
            },
        ),
        record("users", {"id": "u2", "email": "bob@example.com", "plan": "free"}),
        state({"bookmarks": {"users": {"replication_key_value": "2"}}}),
    ]
    # The one happy path through the real `python -m target_intercom`: entry point, stdin,
    # STATE on a real stdout, exit 0.
    run = run_cli(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    contacts = by_external_id(fake)
    assert set(contacts) == {"u1", "u2"}
    ada = contacts["u1"]
    assert ada["email"] == "ada@example.com"
    assert ada["name"] == "Ada Lovelace"
    assert ada["role"] == "user"
    assert ada["signed_up_at"] == 1704164645
    assert ada["custom_attributes"] == {
        "plan": "pro",
        "seats": 3,
        "beta": True,
        "address_city": "London",
        "address_zip": "N1",
    }
    assert {tag for cid, tag in fake.contact_tags() if cid == ada["id"]} == {"vip", "beta"}
    assert run.states == [{"bookmarks": {"users": {"replication_key_value": "2"}}}]


def test_a_new_contact_costs_one_call(fake, tmp_path):
    messages = [USERS] + [
        record("users", {"id": f"n{i}", "email": f"n{i}@x.io"}) for i in range(20)
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    counts = fake.call_counts()
    assert counts["POST /contacts"] == 20
    # and the run's access check, GET /me, and the new sync store's look at the workspace
    assert sum(counts.values()) == 22
    assert counts["GET /contacts"] == 1
    # With the store warm, new contacts still cost one call each.
    fake.reset_calls()
    more = [USERS] + [record("users", {"id": f"m{i}", "email": f"m{i}@x.io"}) for i in range(20)]
    run = run_target(config_for(fake), more, tmp_path)
    assert run.returncode == 0, run.stderr
    assert fake.call_counts() == {"GET /me": 1, "POST /contacts": 20}


def test_same_person_twice_in_one_run_is_one_contact(fake, tmp_path):
    seed_attributes(fake, ("plan", "string"))
    messages = [
        USERS,
        record("users", {"id": "u1", "email": "a@x.io", "plan": "free"}),
        record("users", {"id": "u1", "email": "a@x.io", "plan": "pro"}),
        record("users", {"id": "u1", "email": "a@x.io", "plan": "pro"}),
    ]
    run = run_target(config_for(fake, max_concurrency=8), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    contacts = fake.contacts()
    assert len(contacts) == 1
    assert contacts[0]["custom_attributes"]["plan"] == "pro"
    counts = fake.call_counts()
    # One create, one update; the identical third record costs nothing.
    assert counts["POST /contacts"] == 1
    assert counts["PUT /contacts/{contact_id}"] == 1


def test_contact_created_elsewhere_a_second_ago_is_updated_not_duplicated(fake, tmp_path):
    fake.configure(search_lag=300)
    existing = fake.seed_contact(external_id="u1", email="a@x.io", searchable=False)
    run = run_target(
        config_for(fake),
        [USERS, record("users", {"id": "u1", "email": "a@x.io", "first_name": "Ann"})],
        tmp_path,
    )
    assert run.returncode == 0, run.stderr
    contacts = fake.contacts()
    assert [c["id"] for c in contacts] == [existing]
    assert contacts[0]["name"] == "Ann"


def test_archived_contact_is_unarchived_and_updated(fake, tmp_path):
    existing = fake.seed_contact(external_id="u1", email="a@x.io", archived=True)
    run = run_target(
        config_for(fake),
        [USERS, record("users", {"id": "u1", "email": "a@x.io", "first_name": "Ann"})],
        tmp_path,
    )
    assert run.returncode == 0, run.stderr
    contacts = fake.contacts()
    assert len(contacts) == 1
    assert contacts[0]["id"] == existing
    assert contacts[0]["archived"] is False
    assert contacts[0]["name"] == "Ann"


def test_email_only_contact_matches_existing_by_email(fake, tmp_path):
    existing = fake.seed_contact(email="solo@x.io", searchable=False)
    run = run_target(
        config_for(fake),
        [USERS, record("users", {"email": "solo@x.io", "first_name": "Solo"})],
        tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert [(c["id"], c["name"]) for c in fake.contacts()] == [(existing, "Solo")]


def test_unknown_attribute_fail_names_it_and_the_fix(fake, tmp_path):
    messages = [
        USERS,
        record("users", {"id": "u1", "email": "a@x.io"}),
        state({"at": 1}),
        record("users", {"id": "u2", "email": "b@x.io", "plan": "pro"}),
        state({"at": 2}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if "target-intercom failed" in line]
    assert len(errors) == 1
    assert "'plan'" in errors[0] and "unknown_attributes" in errors[0] and "id='u2'" in errors[0]
    assert "Traceback" not in run.stderr
    assert [c["external_id"] for c in fake.contacts()] == ["u1"]
    assert run.states == [{"at": 1}]


def test_unknown_attribute_drop_sends_the_rest_and_warns_once(fake, tmp_path):
    messages = [USERS] + [
        record("users", {"id": f"u{i}", "email": f"{i}@x.io", "plan": "pro"}) for i in range(3)
    ]
    run = run_target(config_for(fake, unknown_attributes="drop"), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(fake.contacts()) == 3
    assert all("plan" not in c["custom_attributes"] for c in fake.contacts())
    assert run.stderr.count("Dropping custom attribute 'plan'") == 1


def test_unknown_attribute_create_uses_the_schema_types(fake, tmp_path):
    messages = [
        USERS,
        record(
            "users",
            {
                "id": "u1",
                "email": "a@x.io",
                "plan": "pro",
                "seats": 2,
                "beta": False,
                "created_at": "2024-01-01T00:00:00Z",
                "address": {"city": "Oslo"},
            },
        ),
    ]
    run = run_target(config_for(fake, unknown_attributes="create"), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    created = {
        a["name"]: a["data_type"] for a in fake.data_attributes("contact") if a.get("custom")
    }
    assert created == {
        "plan": "string",
        "seats": "integer",
        "beta": "boolean",
        "address_city": "string",
    }
    assert fake.contacts()[0]["custom_attributes"] == {
        "plan": "pro",
        "seats": 2,
        "beta": False,
        "address_city": "Oslo",
    }
    assert fake.call_counts()["GET /data_attributes"] == 1


def test_record_without_identity_is_a_one_line_error_and_keeps_what_came_before(fake, tmp_path):
    messages = [
        USERS,
        record("users", {"id": "u1", "email": "a@x.io"}),
        state({"at": 1}),
        record("users", {"first_name": "Nobody", "id": None}),
        record("users", {"id": "u3", "email": "c@x.io"}),
        state({"at": 3}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 1
    failed = [line for line in run.stderr.splitlines() if "target-intercom failed" in line]
    assert len(failed) == 1 and "neither an external_id nor an email" in failed[0]
    assert "id=None" in failed[0]
    assert "Traceback" not in run.stderr
    assert [c["external_id"] for c in fake.contacts()] == ["u1"]
    assert run.states == [{"at": 1}]


def test_aliases_contacts_and_identifies_load_as_users(fake, tmp_path):
    messages = [
        schema("contacts", {"id": STR, "email": STR}),
        record("contacts", {"id": "c1", "email": "c1@x.io"}),
        schema("identifies", {"userId": STR, "email": STR}),
        record("identifies", {"userId": "i1", "email": "i1@x.io"}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert set(by_external_id(fake)) == {"c1", "i1"}


def test_unknown_stream_says_how_to_alias_it(fake, tmp_path):
    messages = [
        schema("public-customers", {"id": STR, "email": STR}),
        record("public-customers", {"id": "p1", "email": "p@x.io"}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 1
    failed = [line for line in run.stderr.splitlines() if "target-intercom failed" in line]
    assert len(failed) == 1
    assert "'public-customers'" in failed[0] and '"__alias__": "users"' in failed[0]
    assert fake.contacts() == []


def test_stream_maps_alias_recipe_loads_public_customers(fake, tmp_path):
    messages = [
        schema("public-customers", {"id": STR, "email": STR}, ["id"]),
        record("public-customers", {"id": "p1", "email": "p@x.io"}),
    ]
    config = config_for(fake, stream_maps={"public-customers": {"__alias__": "users"}})
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert set(by_external_id(fake)) == {"p1"}


def test_dry_run_writes_nothing_and_no_state(fake, tmp_path):
    messages = [
        USERS,
        record("users", {"id": "u1", "email": "a@x.io", "plan": "pro"}),
        state({"at": 1}),
    ]
    run = run_target(
        config_for(fake, dry_run=True, unknown_attributes="create"), messages, tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert fake.contacts() == []
    assert set(fake.call_counts()) <= {"GET /me", "GET /data_attributes"}
    assert "Dry run would have sent: 1 POST /contacts, 1 POST /data_attributes" in run.stderr
    assert run.states == []


def test_bad_token_fails_at_once_and_never_shows_the_token(fake, tmp_path):
    bad = "tok_wrong_0123456789abcdef"
    messages = [USERS] + [record("users", {"id": f"u{i}", "email": f"{i}@x.io"}) for i in range(50)]
    run = run_target(config_for(fake, access_token=bad, max_concurrency=1), messages, tmp_path)
    assert run.returncode == 1
    assert "access token" in run.stderr and "401" in run.stderr
    assert bad not in run.stderr and bad not in run.stdout
    assert TOKEN not in run.stderr
    assert sum(fake.call_counts().values()) <= 2
    assert fake.contacts() == []


def test_role_context_and_anonymous_id_settings(fake, tmp_path):
    seed_attributes(fake, ("device_type", "string"), ("os_name", "string"))
    identifies = schema(
        "identifies",
        {"anonymousId": STR, "email": STR, "context": {"type": ["object", "null"]}},
    )
    messages = [
        identifies,
        record(
            "identifies",
            {
                "anonymousId": "anon-1",
                "email": "anon@x.io",
                "context": {"device": {"type": "mobile"}, "os": {"name": "iOS"}, "ip": "1.2.3.4"},
            },
        ),
    ]
    config = config_for(
        fake, contact_role="lead", include_context=True, anonymous_id_as_user_id=True
    )
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    (contact,) = fake.contacts()
    # A lead is known by its email: Intercom takes external ids for users only.
    assert (contact["role"], contact["external_id"], contact["email"]) == (
        "lead",
        None,
        "anon@x.io",
    )
    assert contact["custom_attributes"] == {"device_type": "mobile", "os_name": "iOS"}


def test_delete_finds_the_contact_by_email_when_lookup_fields_say_so(fake, tmp_path):
    fake.seed_contact(external_id="crm-7", email="old@x.io")
    messages = [
        schema("users", {"email": STR, "_sdc_deleted_at": DATETIME}),
        record("users", {"email": "old@x.io", "_sdc_deleted_at": "2024-01-01T00:00:00Z"}),
    ]
    run = run_target(config_for(fake, lookup_fields=["email"]), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert [c["archived"] for c in fake.contacts()] == [True]
    assert fake.call_counts()["POST /contacts/search"] == 1
