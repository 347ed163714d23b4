"""Re-syncs against the fake Intercom, with the sync store on SQLite and on a real
PostgreSQL server: what a second run of the same rows costs, what a changed row costs,
and what happens when someone changed Intercom by hand in between."""

from __future__ import annotations

import functools
import sqlite3
from collections import Counter
from typing import Any

import pytest
import requests
from fake_intercom import Faults

from tests import store_runs
from tests.conftest import STR, TOKEN, config_for, record, run_cli, schema, state
from tests.store_runs import by_external_id, kill_after, new_store, summary

LIST = {"type": ["array", "null"], "items": {"type": "string"}}
USERS = schema(
    "users",
    {
        "id": STR,
        "email": STR,
        "name": STR,
        "plan": STR,
        "tags": LIST,
        "company": {"type": ["object", "null"], "properties": {"id": STR, "name": STR}},
    },
    ["id"],
)
COMPANIES = schema(
    "companies",
    {"company_id": STR, "name": STR, "tags": LIST, "user_ids": LIST},
    ["company_id"],
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def store(request, tmp_path) -> dict[str, str]:
    """The settings of a new, empty sync store: a SQLite file, or a database of its own on
    the session's PostgreSQL server. The tests on PostgreSQL are the slow tier's, all but
    the first one below."""
    return new_store(request.param, request, tmp_path / "store")


def user(i: int, **changes: Any) -> dict:
    return record(
        "users",
        {
            "id": f"u{i}",
            "email": f"u{i}@x.io",
            "name": f"User {i}",
            "plan": "free",
            "tags": ["customer"],
            "company": {"id": f"c{i % 3}", "name": f"Company {i % 3}"},
            **changes,
        },
    )


def company(j: int, **changes: Any) -> dict:
    return record(
        "companies",
        {
            "company_id": f"c{j}",
            "name": f"Company {j}",
            "tags": ["account"],
            "user_ids": [f"u{i}" for i in range(j, 12, 3)],
            **changes,
        },
    )


def table(**changed: dict[str, Any]) -> list[dict]:
    """Twelve users in three companies, then the companies; `changed` maps "u<i>" or
    "c<j>" to the new values of that row."""
    users = [user(i, **changed.get(f"u{i}", {})) for i in range(12)]
    companies = [company(j, **changed.get(f"c{j}", {})) for j in range(3)]
    return [USERS, COMPANIES, *users, *companies, state({"at": "end"})]


# The users' plan is a custom attribute the fake's workspace does not have yet.
load = functools.partial(store_runs.load, unknown_attributes="create")


# The fast tier's one test of the store on PostgreSQL: it writes the rows, then reads them.
@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_an_unchanged_resync_costs_only_the_access_check(fake, store, tmp_path):
    first = load(fake, store, table(), tmp_path)
    first_calls = sum(fake.call_counts().values())
    again = load(fake, store, table(), tmp_path)
    assert fake.call_counts() == {"GET /me": 1}
    totals = summary(again)
    assert totals["records_unchanged"] == 15
    assert totals["records_delivered"] == 0
    assert again.states == first.states == [{"at": "end"}]
    assert first_calls >= 40
    assert len(fake.contacts()) == 12
    assert len(fake.companies()) == 3


def test_a_changed_row_costs_one_call(fake, store, tmp_path):
    load(fake, store, table(), tmp_path)
    before = by_external_id(fake)
    changed = table(u3={"name": "Renamed"}, u7={"plan": "pro"}, c1={"name": "Bigger Co"})
    run = load(fake, store, changed, tmp_path)
    assert fake.call_counts() == {
        "GET /me": 1,
        "GET /data_attributes": 1,  # the changed plan's attribute is checked once a run
        "PUT /contacts/{contact_id}": 2,
        "POST /companies": 1,
    }
    after = by_external_id(fake)
    assert after["u3"]["name"] == "Renamed"
    assert after["u7"]["custom_attributes"]["plan"] == "pro"
    assert {c["id"] for c in after.values()} == {c["id"] for c in before.values()}
    assert {c["company_id"]: c["name"] for c in fake.companies()}["c1"] == "Bigger Co"
    assert summary(run)["records_unchanged"] == 12


def test_a_new_tag_or_company_sends_only_what_is_new(fake, store, tmp_path):
    load(fake, store, table(), tmp_path)
    load(
        fake,
        store,
        table(u2={"tags": ["customer", "vip"]}, c0={"tags": ["account", "key"]}),
        tmp_path,
    )
    assert fake.call_counts() == {"GET /me": 1, "POST /tags": 2}
    ids = {c["id"]: c["external_id"] for c in fake.contacts()}
    assert {ids[cid] for cid, tag in fake.contact_tags() if tag == "vip"} == {"u2"}
    assert ("c0", "key") in fake.company_tags()


def test_contacts_and_companies_deleted_by_hand_are_made_again_once(fake, store, tmp_path):
    load(fake, store, table(), tmp_path)
    gone = by_external_id(fake)["u4"]["id"]
    fake.delete_contact(gone)
    fake.delete_company("c2")
    # u4 changed: its stored id answers 404, so it is created again; u5's company c2 is
    # gone, and u5's change makes it be upserted (made again) and attached again.
    run = load(
        fake,
        store,
        table(u4={"name": "Back"}, u5={"name": "Moved", "company": {"id": "c2", "name": "Again"}}),
        tmp_path,
    )
    contacts = by_external_id(fake)
    assert len(fake.contacts()) == 12
    assert contacts["u4"]["name"] == "Back" and contacts["u4"]["id"] != gone
    (c2,) = [c for c in fake.companies() if c["company_id"] == "c2"]
    # u5 made it again as "Again"; the companies row, later in the input, renamed it back.
    assert c2["name"] == "Company 2"
    assert (contacts["u5"]["id"], c2["id"]) in fake.memberships()
    assert (contacts["u4"]["id"], {c["company_id"]: c["id"] for c in fake.companies()}["c1"]) in (
        fake.memberships()
    )
    assert len(fake.companies()) == 3
    assert summary(run)["records_unchanged"] >= 10


def test_a_merged_contact_is_recovered_without_a_duplicate(fake, store, tmp_path):
    load(fake, store, table(), tmp_path)
    contacts = by_external_id(fake)
    fake.merge_contacts(contacts["u1"]["id"], contacts["u2"]["id"])
    load(fake, store, table(u1={"name": "Still here"}), tmp_path)
    # The 410's Link names u2's contact: the change lands there, and u2 keeps its own
    # external_id (tests/test_merged_contacts_e2e.py).
    assert len(fake.contacts()) == 11
    assert by_external_id(fake)["u2"]["name"] == "Still here"
    assert "u1" not in by_external_id(fake)


def test_full_resync_sends_everything_again_by_the_ids_it_knows(fake, store, tmp_path):
    load(fake, store, table(), tmp_path)
    ids = {c["id"] for c in fake.contacts()}
    run = load(fake, store, table(), tmp_path, full_resync=True)
    counts = fake.call_counts()
    assert counts["PUT /contacts/{contact_id}"] == 12
    assert counts["POST /companies"] == 3
    assert "POST /contacts" not in counts
    assert {c["id"] for c in fake.contacts()} == ids
    # The companies rows find each company just sent again by its users' rows.
    assert summary(run)["records_delivered"] == 12


def test_a_store_lost_between_runs_costs_calls_not_duplicates(fake, store, tmp_path):
    load(fake, store, table(), tmp_path)
    load(fake, {"sync_store_path": str(tmp_path / "new.db")}, table(u0={"name": "N"}), tmp_path)
    assert len(fake.contacts()) == 12
    assert len(fake.companies()) == 3
    assert by_external_id(fake)["u0"]["name"] == "N"


@pytest.mark.parametrize("answer", ["conflict", "duplicate"])
def test_a_user_who_predates_the_target_gets_the_external_id(fake, store, tmp_path, answer):
    """Whichever way Intercom answers the create of a new external_id with the email of a
    user that has none, one contact carries both at the end."""
    fake.email_match_on_create = answer
    earlier = fake.seed_contact(email="u0@x.io", name="Typed in by hand")
    load(fake, store, table(), tmp_path)
    holders = [c for c in fake.contacts() if c["email"] == "u0@x.io"]
    assert [(c["id"], c["external_id"], c["name"]) for c in holders] == [(earlier, "u0", "User 0")]
    assert len(fake.contacts()) == 12


def test_two_people_sharing_the_email_of_a_user_typed_in_by_hand(fake, store, tmp_path):
    """The first to come takes the user typed in by hand; the second is someone else."""
    fake.email_match_on_create = "duplicate"
    earlier = fake.seed_contact(email="team@x.io")
    messages = [USERS, user(1, email="team@x.io"), user(2, email="team@x.io")]
    load(fake, store, messages, tmp_path)
    holders = {c["external_id"]: c["id"] for c in fake.contacts() if c["email"] == "team@x.io"}
    assert set(holders) == {"u1", "u2"}
    assert holders["u1"] == earlier


def _seed_users(fake, n: int) -> None:
    for i in range(n):
        fake.seed_contact(email=f"old{i}@x.io")


def test_small_load_into_a_big_workspace_searches_per_new_email(fake, store, tmp_path):
    _seed_users(fake, 400)  # three pages of 150
    fake.seed_contact(email="u1@x.io")
    messages = [USERS, user(0), user(1)]
    load(fake, store, messages, tmp_path)
    counts = fake.call_counts()
    assert counts["GET /contacts"] == 1  # the workspace's size, once
    assert counts["POST /contacts/search"] == 2
    assert counts["POST /contacts"] == 1  # u1 was the user typed in by hand
    assert len([c for c in fake.contacts() if c["email"] == "u1@x.io"]) == 1


def test_big_load_into_a_small_workspace_lists_it_once(fake, store, tmp_path):
    fake.email_match_on_create = "duplicate"
    _seed_users(fake, 10)
    fake.seed_contact(email="u9@x.io")
    messages = [USERS, *[user(i) for i in range(30)]]
    load(fake, store, messages, tmp_path, max_concurrency=1)
    counts = fake.call_counts()
    # One search (a page's worth), then the single page of the workspace: 1 + 1 + 1.
    assert counts["GET /contacts"] == 2
    assert counts["POST /contacts/search"] == 1
    assert len([c for c in fake.contacts() if c["email"] == "u9@x.io"]) == 1
    # Warm: a new contact costs its one create.
    load(fake, store, [USERS, user(40, company=None, tags=None)], tmp_path)
    assert fake.call_counts() == {"GET /me": 1, "GET /data_attributes": 1, "POST /contacts": 1}


def test_conflicts_that_name_no_contact_are_retried_then_resolved(fake, store, tmp_path):
    # One worker: the fake draws its faults from one seeded sequence in the order the
    # creates come, so every run meets the same conflicts. Seed 1 gives four creates two
    # conflicts in a row (both retry waits) and none three, which no retry would resolve.
    fake.configure(
        faults=Faults(rate=0.3, kinds=("409_conflict",), seed=1, paths={"POST /contacts"})
    )
    messages = [USERS, *[user(i, company=None, tags=None) for i in range(20)]]
    load(fake, store, messages, tmp_path, max_concurrency=1)
    conflicts = sum(1 for c in fake.calls() if c.status == 409)
    fake.configure(faults=Faults())
    assert sorted(by_external_id(fake)) == sorted(f"u{i}" for i in range(20))
    assert len(fake.contacts()) == 20
    assert conflicts > 0


def test_update_only_never_creates(fake, store, tmp_path):
    fake.seed_contact(external_id="u0", email="u0@x.io")
    fake.seed_company("c0", name="Before")
    messages = [USERS, user(0), user(1), COMPANIES, company(0), company(1)]
    run = load(fake, store, messages, tmp_path, write_mode="update_only")
    assert sorted(by_external_id(fake)) == ["u0"]
    assert by_external_id(fake)["u0"]["name"] == "User 0"
    assert {c["company_id"]: c["name"] for c in fake.companies()} == {"c0": "Company 0"}
    totals = summary(run)
    assert totals["streams"]["users"]["not_in_intercom"] == 1
    assert totals["streams"]["companies"]["not_in_intercom"] == 1
    assert "write_mode update_only creates none" in run.stderr


def test_mirror_removes_what_the_target_made_and_nothing_else(fake, store, tmp_path):
    load(fake, store, table(), tmp_path)
    contacts = by_external_id(fake)
    hand_tagged = contacts["u0"]["id"]
    # Someone tags u0 by hand, with a tag this target never applied to it, and tags c1.
    for body in (
        {"name": "hand-made", "users": [{"id": hand_tagged}]},
        {"name": "hand-made", "companies": [{"company_id": "c0"}]},
    ):
        requests.post(
            f"{fake.url}/tags",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"},
            timeout=5,
        ).raise_for_status()
    # u0 loses its tag; c0 loses its tag; u3 moves from c0 to c1, in both streams.
    changed = table(
        u0={"tags": []},
        u3={"company": {"id": "c1", "name": "Company 1"}},
        c0={"tags": [], "user_ids": ["u0", "u6", "u9"]},
        c1={"user_ids": ["u1", "u3", "u4", "u7", "u10"]},
    )
    load(fake, store, changed, tmp_path, mirror_tags_and_companies=True)
    tags = fake.contact_tags()
    assert (hand_tagged, "customer") not in tags
    assert (hand_tagged, "hand-made") in tags
    assert (contacts["u1"]["id"], "customer") in tags
    assert ("c0", "account") not in fake.company_tags()
    assert ("c0", "hand-made") in fake.company_tags()
    ids = {c["company_id"]: c["id"] for c in fake.companies()}
    members = fake.memberships()
    assert (contacts["u3"]["id"], ids["c0"]) not in members
    assert (contacts["u3"]["id"], ids["c1"]) in members
    assert (contacts["u0"]["id"], ids["c0"]) in members
    assert (contacts["u6"]["id"], ids["c0"]) in members


def test_without_mirror_nothing_is_removed(fake, store, tmp_path):
    load(fake, store, table(), tmp_path)
    load(fake, store, table(u0={"tags": []}), tmp_path)
    u0 = by_external_id(fake)["u0"]["id"]
    assert (u0, "customer") in fake.contact_tags()


def test_a_kill_in_a_resync_then_a_rerun_leaves_nothing_missing_or_doubled(fake, store, tmp_path):
    n = 300
    first = [USERS, *[user(i, company=None, tags=None) for i in range(n)], state({"at": n})]
    load(fake, store, first, tmp_path)
    changed = [
        USERS,
        *[user(i, company=None, tags=None, name=f"v2 {i}") for i in range(n)],
        state({"at": n}),
    ]
    fake.configure(latency=0.02)
    config = config_for(fake, **store, max_concurrency=4)
    kill_after(fake, "PUT /contacts/{contact_id}", n // 3, tmp_path / "killed", config, changed)
    fake.configure(latency=0.0)
    sent_before_kill = fake.call_counts()["PUT /contacts/{contact_id}"]
    rerun = load(fake, store, changed, tmp_path)
    contacts = fake.contacts()
    assert len(contacts) == n
    assert Counter(c["name"] for c in contacts) == Counter(f"v2 {i}" for i in range(n))
    # The kill came mid-way; the re-run sent again what the store had not yet been told,
    # by the ids it knew, and created nothing.
    assert 0 < sent_before_kill < n
    assert summary(rerun)["records_delivered"] <= n
    assert "POST /contacts" not in fake.call_counts()


def test_a_dry_run_reads_the_store_and_writes_nothing_to_it(fake, tmp_path):
    path = tmp_path / "dry.db"
    run = load(fake, {"sync_store_path": str(path)}, table(), tmp_path, dry_run=True)
    assert not path.exists()
    assert summary(run)["records_would_send"] == 15


# ------------------------------------------------------------------ bad stores


@pytest.mark.parametrize(
    ("path", "said"),
    [("nowhere/sync.db", "does not exist"), ("store", "cannot be used")],
    ids=["in a folder that does not exist", "a folder itself"],
)
def test_a_store_path_that_cannot_hold_a_store_is_one_line_before_any_record(
    fake, tmp_path, path, said
):
    (tmp_path / "store").mkdir()
    config = config_for(fake, sync_store_path=str(tmp_path / path))
    run = run_cli(config, [USERS, user(0)], tmp_path)
    assert run.returncode == 1
    assert "sync store" in run.error_lines[-1] and said in run.error_lines[-1]
    assert "Traceback" not in run.stderr
    assert fake.contacts() == []


def test_a_store_url_that_cannot_be_reached_is_one_line_without_its_password(fake, tmp_path):
    password = "s3cret-store-pw-42"
    url = f"postgresql+psycopg://loader:{password}@127.0.0.1:9/nowhere"
    run = run_cli(config_for(fake, sync_store_url=url), [USERS, user(0)], tmp_path)
    assert run.returncode == 1
    assert "sync store" in run.error_lines[-1]
    assert password not in run.stderr and password not in run.stdout
    assert "Traceback" not in run.stderr
    assert fake.contacts() == []


def _run_on_a_store_with(fake, tmp_path, name: str, value: str):
    """A store written by a first load, then its meta `name` set to `value` by hand, and
    the target run on it again: the store's file, and the second run."""
    path = tmp_path / "sync.db"
    load(fake, {"sync_store_path": str(path)}, table(), tmp_path)
    with sqlite3.connect(path) as db:
        db.execute("update target_intercom_meta set value = ? where name = ?", (value, name))
    return path, run_cli(config_for(fake, sync_store_path=str(path)), table(), tmp_path)


def test_a_store_written_by_a_newer_target_is_refused_not_rewritten(fake, tmp_path):
    path, run = _run_on_a_store_with(fake, tmp_path, "schema_version", "99")
    assert run.returncode == 1
    assert "newer target-intercom" in run.error_lines[-1]
    with sqlite3.connect(path) as db:
        (version,) = db.execute(
            "select value from target_intercom_meta where name = 'schema_version'"
        ).fetchone()
    assert version == "99"


def test_a_store_of_another_workspace_is_refused(fake, tmp_path):
    _, run = _run_on_a_store_with(fake, tmp_path, "workspace", "other")
    assert run.returncode == 1
    assert "workspace 'other'" in run.error_lines[-1]


def test_a_row_back_to_what_the_store_holds_after_a_change_in_the_same_run_is_sent(
    fake, store, tmp_path
):
    """u1 renamed and then named back, in one re-sync: the second row equals what the store
    held before the run, yet must be sent, after the first (the contact's order holds)."""
    load(fake, store, table(), tmp_path)
    fake.configure(latency=0.05)
    messages = [USERS, user(1, name="Renamed"), user(1), state({"at": "end"})]
    run = load(fake, store, messages, tmp_path)
    assert by_external_id(fake)["u1"]["name"] == "User 1"
    assert fake.call_counts()["PUT /contacts/{contact_id}"] == 2
    assert summary(run)["records_delivered"] == 2
