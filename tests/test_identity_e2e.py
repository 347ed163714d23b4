"""The identity rule: an external_id is a contact and no other; an email only finds a
contact when the record has no external_id, or when the contact has none of its own; what
was last written is compared per Intercom contact, whatever key a record came by."""

from __future__ import annotations

import pytest
from fake_intercom import Faults

from tests.conftest import DATETIME, STR, WAITS, config_for, record, run_target, schema

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


# The same person as a record with both keys (A), its external_id only (I), its email only (E).
SHAPES = {
    "A": {"id": "x1", "email": "e1@acme.io"},
    "I": {"id": "x1"},
    "E": {"email": "e1@acme.io"},
}
# What Intercom holds after the first record (name N1) and then the second (name N2), as
# (external_id, email, name): an email finds the contact that holds it unless both carry
# different external_ids; an external_id and an email on different records never meet.
AFTER = {
    "AA": {("x1", "e1@acme.io", "N2")},
    "AI": {("x1", "e1@acme.io", "N2")},
    "AE": {("x1", "e1@acme.io", "N2")},
    "IA": {("x1", "e1@acme.io", "N2")},
    "II": {("x1", None, "N2")},
    "IE": {("x1", None, "N1"), (None, "e1@acme.io", "N2")},
    "EA": {("x1", "e1@acme.io", "N2")},
    "EI": {(None, "e1@acme.io", "N1"), ("x1", None, "N2")},
    "EE": {(None, "e1@acme.io", "N2")},
}


@pytest.mark.parametrize(
    "runs", ["one run", "two runs", "two runs, store lost"], ids=lambda runs: runs
)
@pytest.mark.parametrize("pair", sorted(AFTER))
def test_every_pair_of_identity_shapes_ends_as_the_rule_says(fake, tmp_path, pair, runs):
    first = record("users", {**SHAPES[pair[0]], "name": "N1"})
    second = record("users", {**SHAPES[pair[1]], "name": "N2"})
    batches = [[USERS, first, second]] if runs == "one run" else [[USERS, first], [USERS, second]]
    for n, messages in enumerate(batches):
        # "store lost": the second run has a new sync store, as on a runner with no disk.
        store = {"sync_store_path": str(tmp_path / f"{n}.db")} if "lost" in runs else {}
        run = run_target(config_for(fake, **store), messages, tmp_path)
        assert run.returncode == 0, run.stderr
    held = {(c["external_id"], c["email"], c["name"]) for c in fake.contacts()}
    assert held == AFTER[pair]


LEADS = schema("users", {"email": STR, "name": STR, "role": STR})


def leads(count: int) -> list[dict]:
    return [record("users", {"email": f"l{i}@acme.io", "role": "lead"}) for i in range(count)]


def lead_emails(fake) -> list[str]:
    return sorted(c["email"] for c in fake.contacts() if c["role"] == "lead")


def test_leads_replayed_are_found_not_created_again(fake, tmp_path):
    """With the sync store lost between the runs, so that search has to find them."""
    for n in range(2):
        store = str(tmp_path / f"{n}.db")
        run = run_target(config_for(fake, sync_store_path=store), [LEADS, *leads(5)], tmp_path)
        assert run.returncode == 0, run.stderr
    assert lead_emails(fake) == [f"l{i}@acme.io" for i in range(5)]
    assert '"updated": 5' in run.stderr


def test_leads_replayed_with_the_store_kept_cost_no_call(fake, tmp_path):
    for _ in range(2):
        run = run_target(config_for(fake), [LEADS, *leads(5)], tmp_path)
        assert run.returncode == 0, run.stderr
    assert lead_emails(fake) == [f"l{i}@acme.io" for i in range(5)]
    assert '"unchanged": 5' in run.stderr
    assert '"api_calls_total": 1,' in run.stderr  # GET /me


def test_a_lead_whose_create_answer_was_lost_is_not_created_again(fake, tmp_path):
    faults = Faults(rate=0.3, kinds=["apply_then_drop"], seed=7, paths=["POST /contacts"])
    fake.configure(faults=faults)
    run = run_target(config_for(fake, max_concurrency=8), [LEADS, *leads(40)], tmp_path)
    assert run.returncode == 0, run.stderr
    assert lead_emails(fake) == sorted(f"l{i}@acme.io" for i in range(40))
    dropped = [c for c in fake.calls() if c.route == "POST /contacts" and c.status == 0]
    assert len(dropped) >= 5


def test_a_lead_whose_lost_create_search_shows_late_is_found_by_a_later_search(fake, tmp_path):
    # Applied, then the answer lost; search shows the lead only after a lag that searches
    # sent without the lead_search waits between them would all miss.
    faults = Faults(rate=1.0, kinds=["apply_then_drop"], paths=["POST /contacts"])
    fake.configure(faults=faults, search_lag=WAITS.lead_search_total * 0.8)
    run = run_target(config_for(fake), [LEADS, *leads(1)], tmp_path)
    assert run.returncode == 0, run.stderr
    assert lead_emails(fake) == ["l0@acme.io"]
    assert fake.call_counts()["POST /contacts"] == 1


def test_a_lead_whose_lost_create_search_never_shows_is_reported_not_sent_again(fake, tmp_path):
    faults = Faults(rate=1.0, kinds=["drop"], paths=["POST /contacts"])
    fake.configure(faults=faults)
    run = run_target(config_for(fake), [LEADS, *leads(1)], tmp_path)
    assert run.returncode == 1
    assert (
        f"search has not shown a lead with email 'l0@acme.io' within "
        f"{WAITS.lead_search_total:g}s, and the create was not sent again" in run.stderr
    )
    assert fake.contacts() == []
    counts = fake.call_counts()
    # One search before the create, one after each wait; one create, never a second.
    assert counts["POST /contacts/search"] == 1 + len(WAITS.lead_search)
    assert counts["POST /contacts"] == 1


def test_lookup_by_phone_finds_the_contact_a_delete_names(fake, tmp_path):
    fake.seed_contact(phone="+33123456789")
    messages = [
        schema("users", {"id": STR, "phone": STR, "_sdc_deleted_at": DATETIME}, ["id"]),
        record("users", {"id": "x9", "phone": "+33123456789", "_sdc_deleted_at": DELETED}),
    ]
    config = config_for(fake, lookup_fields=["external_id", "phone"])
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [contact] = fake.contacts()
    assert contact["archived"] is True
