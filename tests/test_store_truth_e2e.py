"""What the sync store believes must be what Intercom holds from this target, whatever key a
record came by, however far a record got, and whoever else touched the contact: every fact
belongs to one Intercom contact or company, is recorded once Intercom confirmed the call
that made it, and mirror removes only what this target made."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import pytest
import requests

from tests.conftest import (
    DATETIME,
    LIST,
    STR,
    TOKEN,
    config_for,
    record,
    run_target,
    schema,
    state,
)

USERS = schema(
    "users",
    {
        "id": STR,
        "email": STR,
        "name": STR,
        "tags": LIST,
        "_sdc_deleted_at": DATETIME,
        "company": {
            "type": ["object", "null"],
            "properties": {"id": STR, "name": STR, "tier": STR},
        },
    },
)
COMPANIES = schema(
    "companies",
    {"company_id": STR, "name": STR, "tags": LIST, "user_ids": LIST, "user_emails": LIST},
    ["company_id"],
)
DELETED = "2024-06-01T00:00:00Z"


def users(*rows: dict[str, Any]) -> list[dict]:
    return [USERS, *(record("users", row) for row in rows)]


def load(fake, messages: list, tmp_path, **settings: Any):
    fake.reset_calls()
    run = run_target(config_for(fake, **settings), messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def in_turn(fake, tmp_path, batches: list[list[dict]], runs: str, **settings: Any) -> None:
    """The rows in one run, or each batch in a run of its own on the same store."""
    if runs == "one run":
        load(fake, [m for batch in batches for m in batch], tmp_path, **settings)
        return
    for batch in batches:
        load(fake, batch, tmp_path, **settings)


def held(fake) -> set[tuple[Any, ...]]:
    return {(c["external_id"], c["email"], c["name"], c["archived"]) for c in fake.contacts()}


def post(fake, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A call made by someone else (Intercom's UI, another integration)."""
    answer = requests.post(
        f"{fake.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"},
        timeout=5,
    )
    answer.raise_for_status()
    return dict(answer.json())


RUNS = ["one run", "one run each"]


@pytest.mark.parametrize("runs", RUNS)
def test_an_email_only_row_never_hands_a_shared_email_to_another_user(fake, tmp_path, runs):
    """Intercom's 409 for the email-only row names x1's contact; x2 with the same email is
    someone else, not a user who predates the target (case 1)."""
    rows = [
        {"id": "x1", "email": "support@acme.io", "name": "Ann"},
        {"email": "support@acme.io", "name": "Team"},
        {"id": "x2", "email": "support@acme.io", "name": "Bob"},
    ]
    in_turn(fake, tmp_path, [users(row) for row in rows], runs)
    by_external_id = {c["external_id"]: c["name"] for c in fake.contacts()}
    assert by_external_id == {"x1": "Team", "x2": "Bob"}


def test_a_record_that_fails_after_its_update_is_not_taken_for_unchanged(fake, tmp_path):
    """B's update reaches Intercom, then its company's unknown attribute rejects it; A again
    must be sent, not skipped as what the store held before B (case 2a)."""
    a = {"id": "x", "email": "x@acme.io", "name": "A"}
    b = {**a, "name": "B", "company": {"id": "c1", "name": "Acme", "tier": "gold"}}
    run = load(fake, users(a, b, a), tmp_path, on_record_error="skip")
    assert '"records_skipped": 1' in run.stderr
    [contact] = fake.contacts()
    assert contact["name"] == "A"


def test_a_kill_before_the_store_is_written_never_leaves_a_change_skipped(fake, tmp_path):
    """A run sends B and writes its STATE, then is killed before the store's batch is
    written; a later run with A must send A (case 2b)."""
    a = {"id": "x", "email": "x@acme.io", "name": "A"}
    load(fake, users(a), tmp_path)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(config_for(fake)))
    process = subprocess.Popen(
        [sys.executable, "-m", "target_intercom", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdin is not None and process.stdout is not None
    later = record("users", {"id": "y", "email": "y@acme.io"})
    for message in [*users({**a, "name": "B"}), state({"at": 1}), later]:
        process.stdin.write(json.dumps(message) + "\n")
    process.stdin.flush()
    # STATE comes once B is in Intercom; the store's batch waits for more rows or 5 s.
    assert json.loads(process.stdout.readline()) == {"at": 1}
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert fake.contacts()[0]["name"] == "B"
    load(fake, users(a), tmp_path)
    assert fake.contacts()[0]["name"] == "A"


@pytest.mark.parametrize("runs", RUNS)
def test_a_delete_by_email_in_between_leaves_the_user_active(fake, tmp_path, runs):
    """What a record by email did to the contact counts for the record by external_id
    too, across runs as in one (case 3)."""
    rows = [
        {"id": "x", "email": "e@acme.io", "name": "N"},
        {"email": "e@acme.io", "_sdc_deleted_at": DELETED},
        {"id": "x", "email": "e@acme.io", "name": "N"},
    ]
    in_turn(fake, tmp_path, [users(row) for row in rows], runs)
    assert held(fake) == {("x", "e@acme.io", "N", False)}


@pytest.mark.parametrize("runs", RUNS)
def test_a_row_by_email_in_between_is_not_hidden_by_the_unchanged_check(fake, tmp_path, runs):
    rows = [
        {"id": "x", "email": "e@acme.io", "name": "N1"},
        {"email": "e@acme.io", "name": "N2"},
        {"id": "x", "email": "e@acme.io", "name": "N1"},
    ]
    in_turn(fake, tmp_path, [users(row) for row in rows], runs)
    assert held(fake) == {("x", "e@acme.io", "N1", False)}


def test_mirror_never_removes_a_tag_or_membership_someone_else_made(fake, tmp_path):
    """Listed by a row once they were there already, they are still not the target's own
    (case 5)."""
    u0 = {"id": "u0", "email": "u0@acme.io", "name": "U0", "tags": []}
    u1 = {"id": "u1", "email": "u1@acme.io", "name": "U1", "tags": []}
    load(fake, users(u0, u1), tmp_path)
    contact = {c["external_id"]: c["id"] for c in fake.contacts()}
    fake.seed_company("c9", name="Nine")
    by_hand = {c["company_id"]: c["id"] for c in fake.companies()}["c9"]
    post(fake, "/tags", {"name": "vip", "users": [{"id": contact["u0"]}]})
    post(fake, "/tags", {"name": "key", "companies": [{"id": by_hand}]})
    for who in ("u0", "u1"):
        post(fake, f"/contacts/{contact[who]}/companies", {"id": by_hand})
    mirror = {"mirror_tags_and_companies": True}
    listing = [
        *users({**u0, "tags": ["vip"], "company": {"id": "c9"}}),
        COMPANIES,
        record("companies", {"company_id": "c9", "tags": ["key"], "user_ids": ["u1"]}),
    ]
    load(fake, listing, tmp_path, **mirror)
    dropping = [
        *users(u0),
        COMPANIES,
        record("companies", {"company_id": "c9", "tags": [], "user_ids": []}),
    ]
    load(fake, dropping, tmp_path, **mirror)
    assert (contact["u0"], "vip") in fake.contact_tags()
    assert ("c9", "key") in fake.company_tags()
    assert {(contact["u0"], by_hand), (contact["u1"], by_hand)} <= fake.memberships()


def test_full_resync_under_mirror_removes_what_the_target_made_and_remembers_the_rest(
    fake, tmp_path
):
    """Dropped tags and memberships are removed, and what stays is still known as the
    target's, so a later run can remove it (case 6)."""
    mirror = {"mirror_tags_and_companies": True}
    u0 = {"id": "u0", "email": "u0@acme.io", "name": "U0"}
    load(fake, users({**u0, "tags": ["a", "b"], "company": {"id": "c1"}}), tmp_path, **mirror)
    contact = fake.contacts()[0]["id"]
    load(fake, users({**u0, "tags": ["a"]}), tmp_path, full_resync=True, **mirror)
    assert {tag for who, tag in fake.contact_tags() if who == contact} == {"a"}
    assert fake.memberships() == set()
    load(fake, users({**u0, "tags": []}), tmp_path, **mirror)
    assert {tag for who, tag in fake.contact_tags() if who == contact} == set()


def test_an_unchanged_company_listing_members_by_email_costs_no_call(fake, tmp_path):
    """Members named by email are found in the store, as those named by user_id are
    (case 13)."""
    members = [{"id": f"u{i}", "email": f"u{i}@acme.io", "name": f"U{i}"} for i in range(50)]
    rows = [
        *users(*members),
        COMPANIES,
        record(
            "companies",
            {"company_id": "c1", "name": "Acme", "user_emails": [m["email"] for m in members]},
        ),
    ]
    load(fake, rows, tmp_path)
    assert len(fake.memberships()) == 50
    load(fake, rows, tmp_path)
    assert fake.call_counts() == {"GET /me": 1}
