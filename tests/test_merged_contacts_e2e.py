"""A contact merged in Intercom since the target wrote it: its id answers 410 with a
`Link` to the contact Intercom kept, and the target sends the record there (one more
call, never a create) and names the kept contact in its store from then on."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.conftest import LIST, STR, config_for, record, run_target, schema
from tests.store_runs import by_external_id

USERS = schema("users", {"id": STR, "email": STR, "name": STR, "role": STR, "tags": LIST})
PUT = "PUT /contacts/{contact_id}"


def load(fake, tmp_path, *rows: dict[str, Any]) -> Counter[str]:
    """One run of these rows on the fake's store; what it cost, call by call."""
    fake.reset_calls()
    run = run_target(config_for(fake), [USERS, *(record("users", r) for r in rows)], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    return fake.call_counts()


ANN = {"id": "u1", "email": "ann@acme.io", "name": "Ann", "tags": ["vip"]}
BOB = {"id": "u2", "email": "bob@acme.io", "name": "Bob"}


def test_an_update_of_a_merged_user_lands_on_the_contact_intercom_kept(fake, tmp_path):
    load(fake, tmp_path, ANN, BOB)
    ann, bob = by_external_id(fake)["u1"]["id"], by_external_id(fake)["u2"]["id"]
    fake.merge_contacts(ann, bob)
    changed = {**ANN, "name": "Ann Changed"}
    cost = load(fake, tmp_path, changed)
    # The 410, the update sent to the kept contact, and Ann's tag applied to it (what a
    # merge moves is not documented): no create.
    assert cost == {"GET /me": 1, PUT: 2, "POST /tags": 1}
    [kept] = fake.contacts()
    # The record's fields, on the contact Intercom kept; its own external_id stays.
    assert (kept["id"], kept["external_id"], kept["name"]) == (bob, "u2", "Ann Changed")
    assert fake.contact_tags() == {(bob, "vip")}
    # The store names the kept contact now: unchanged rows cost nothing.
    assert load(fake, tmp_path, changed) == {"GET /me": 1}
    # And a changed row one update, still without writing over the kept one's external_id.
    assert load(fake, tmp_path, {**changed, "name": "Ann Again"}) == {"GET /me": 1, PUT: 1}
    [kept] = fake.contacts()
    assert (kept["id"], kept["external_id"], kept["name"]) == (bob, "u2", "Ann Again")


def test_a_lead_merged_into_a_user_is_updated_as_that_user(fake, tmp_path):
    """What Intercom itself does: a lead (a visitor who left an email) merged into the
    user they turned out to be."""
    lead = {"email": "visitor@acme.io", "name": "Visitor", "role": "lead"}
    load(fake, tmp_path, lead)
    [visitor] = fake.contacts()
    user = fake.seed_contact(external_id="u9", email="visitor@acme.io", name="Signed up")
    fake.merge_contacts(visitor["id"], user)
    assert load(fake, tmp_path, {**lead, "name": "Known now"}) == {"GET /me": 1, PUT: 2}
    [kept] = fake.contacts()
    assert (kept["id"], kept["role"], kept["external_id"]) == (user, "user", "u9")
    assert kept["name"] == "Known now"
    assert load(fake, tmp_path, {**lead, "name": "Known now"}) == {"GET /me": 1}
