"""The identity rule: an external_id is a contact and no other; an email only finds a
contact when the record has no external_id, or when the contact has none of its own; what
was last written is compared per Intercom contact, whatever key a record came by."""

from __future__ import annotations

from tests.conftest import DATETIME, STR, config_for, record, run_target, schema

USERS = schema("users", {"id": STR, "email": STR, "name": STR, "_sdc_deleted_at": DATETIME})
DELETED = "2024-06-01T00:00:00Z"


def contacts_by_external_id(fake) -> dict[str | None, dict]:
    return {c["external_id"]: c for c in fake.contacts()}


def test_two_users_sharing_an_email_stay_two_contacts(fake, tmp_path):
    messages = [
        USERS,
        record("users", {"id": "x1", "email": "support@acme.io", "name": "Ann"}),
        record("users", {"id": "x2", "email": "support@acme.io", "name": "Bob"}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    held = contacts_by_external_id(fake)
    assert set(held) == {"x1", "x2"}
    assert held["x1"]["name"] == "Ann"
    assert held["x2"]["name"] == "Bob"


def test_deleting_a_user_intercom_lacks_leaves_another_with_the_same_email(fake, tmp_path):
    fake.seed_contact(external_id="x1", email="shared@acme.io")
    messages = [
        USERS,
        record("users", {"id": "x2", "email": "shared@acme.io", "_sdc_deleted_at": DELETED}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert contacts_by_external_id(fake)["x1"]["archived"] is False
    assert '"already_absent": 1' in run.stderr


def test_a_record_by_email_in_between_is_not_hidden_by_the_unchanged_check(fake, tmp_path):
    messages = [
        USERS,
        record("users", {"id": "x", "email": "e@acme.io", "name": "N1"}),
        record("users", {"email": "e@acme.io", "name": "N2"}),
        record("users", {"id": "x", "email": "e@acme.io", "name": "N1"}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [contact] = fake.contacts()
    assert (contact["external_id"], contact["name"]) == ("x", "N1")


def test_insert_then_delete_by_email_then_insert_ends_active(fake, tmp_path):
    messages = [
        USERS,
        record("users", {"id": "x", "email": "e@acme.io"}),
        record("users", {"email": "e@acme.io", "_sdc_deleted_at": DELETED}),
        record("users", {"id": "x", "email": "e@acme.io"}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [contact] = fake.contacts()
    assert (contact["external_id"], contact["archived"]) == ("x", False)
