"""notice_intercom_edits against the fake Intercom: contacts a teammate edits in Intercom's
UI are sent again on the next run with the setting on, and only those; with it off the
edit stands until the row changes. Also the fake's side of it: search matching
timestamps by calendar day, and a teammate's edit moving `updated_at`."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from typing import Any

import pytest
import requests

from tests import store_runs
from tests.conftest import STR, TOKEN, config_for, record, schema, state
from tests.store_runs import Cli, by_external_id, new_store, summary

USERS = schema("users", {"id": STR, "email": STR, "name": STR, "plan": STR}, ["id"])
DAY = 86_400


def user(i: int) -> dict:
    return record(
        "users", {"id": f"u{i}", "email": f"u{i}@x.io", "name": f"User {i}", "plan": "free"}
    )


def users(count: int, **changed: dict[str, Any]) -> list[dict]:
    rows = [user(i) for i in range(count)]
    for key, values in changed.items():
        index = int(key[1:])
        rows[index] = record("users", {**rows[index]["record"], **values})
    return [USERS, *rows, state({"at": "end"})]


def load(fake, messages: list, tmp_path, **settings: Any):
    """A run on the store `settings` name, by default the fake's own."""
    return store_runs.load(fake, {}, messages, tmp_path, unknown_attributes="create", **settings)


def edit_as_a_teammate(fake) -> None:
    """A teammate renames u1 and changes u3's plan in Intercom's UI."""
    held = by_external_id(fake)
    fake.edit_contact(held["u1"]["id"], name="Renamed by hand")
    fake.edit_contact(held["u3"]["id"], custom_attributes={"plan": "enterprise"})


def loaded_then_edited(fake, tmp_path, count: int, **store: str) -> None:
    """A first run of `count` users with the setting on, then a teammate's edits."""
    load(fake, users(count), tmp_path, notice_intercom_edits=True, **store)
    edit_as_a_teammate(fake)


def as_loaded(contact: dict) -> tuple[str, str]:
    return contact["name"], contact["custom_attributes"]["plan"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def store(request, tmp_path) -> dict[str, str]:
    """The fake's own SQLite file, or a new database on the session's PostgreSQL server."""
    return {} if request.param == "sqlite" else new_store("postgres", request, tmp_path)


def test_edits_made_in_intercom_are_sent_again_only_with_the_setting_on(fake, store, tmp_path):
    loaded_then_edited(fake, tmp_path, 6, **store)
    # The first run with the setting on has no earlier check to look back to: no search.
    assert "POST /contacts/search" not in fake.call_counts()

    # Off: the store says each contact holds what was written, so nothing is sent.
    load(fake, users(6), tmp_path, **store)
    assert fake.call_counts() == {"GET /me": 1}
    held = by_external_id(fake)
    assert held["u1"]["name"] == "Renamed by hand"
    assert held["u3"]["custom_attributes"]["plan"] == "enterprise"

    # On: one search, then exactly the two edited rows are sent again.
    run = load(fake, users(6), tmp_path, notice_intercom_edits=True, **store)
    assert fake.call_counts() == {
        "GET /me": 1,
        "POST /contacts/search": 1,
        "GET /data_attributes": 1,  # a row sent checks its attributes once a run
        "PUT /contacts/{contact_id}": 2,
    }
    held = by_external_id(fake)
    assert as_loaded(held["u1"]) == ("User 1", "free")
    assert as_loaded(held["u3"]) == ("User 3", "free")
    assert "2 contacts were edited in Intercom since the last run" in run.stderr

    # The writes just made are this target's own: the next run sends nothing again.
    load(fake, users(6), tmp_path, notice_intercom_edits=True, **store)
    assert fake.call_counts() == {"GET /me": 1, "POST /contacts/search": 1}


def test_rows_read_while_the_check_is_on_the_wire_wait_for_it(fake, tmp_path):
    """The check runs once, on whichever thread meets a users record first (here the one
    that settles a lone record after a pause): rows the reading thread settles meanwhile
    wait for it, so an edited contact's row is not taken as unchanged before its doubt."""
    loaded_then_edited(fake, tmp_path, 200)
    gate = fake.hold("POST /contacts/search")
    rows = users(200)
    cli = Cli(tmp_path / "checking", config_for(fake, notice_intercom_edits=True), None)
    cli.send(rows[:2])  # the schema and u0, alone: settled after a pause, the check begins
    gate.wait_until_held(1)
    cli.send(rows[2:])  # batches the reading thread settles while the search is held
    time.sleep(0.5)
    gate.open()
    returncode, stderr = cli.end()
    assert returncode == 0, stderr[-3000:]
    held = by_external_id(fake)
    assert as_loaded(held["u1"]) == ("User 1", "free")
    assert as_loaded(held["u3"]) == ("User 3", "free")


def test_an_edit_search_did_not_show_yet_is_noticed_by_the_next_run(fake, tmp_path):
    loaded_then_edited(fake, tmp_path, 4)
    # Search lags behind writes by minutes: this run's check does not see the edits.
    fake.configure(search_lag=600)
    load(fake, users(4), tmp_path, notice_intercom_edits=True)
    assert fake.call_counts() == {"GET /me": 1, "POST /contacts/search": 1}
    # The next check looks back past the last one (by days): they are seen now.
    fake.configure(search_lag=0)
    load(fake, users(4), tmp_path, notice_intercom_edits=True)
    assert fake.call_counts()["PUT /contacts/{contact_id}"] == 2
    assert as_loaded(by_external_id(fake)["u1"]) == ("User 1", "free")


def test_a_row_that_does_not_come_this_run_is_sent_when_it_comes(fake, tmp_path):
    loaded_then_edited(fake, tmp_path, 6)
    load(fake, users(2), tmp_path, notice_intercom_edits=True)  # u1 only: u3 not read
    assert fake.call_counts()["PUT /contacts/{contact_id}"] == 1
    fake.configure(search_lag=600)  # u3 was edited, then searched for: it is not lost
    load(fake, users(6), tmp_path, notice_intercom_edits=True)
    assert fake.call_counts()["PUT /contacts/{contact_id}"] == 1
    assert as_loaded(by_external_id(fake)["u3"]) == ("User 3", "free")


def test_a_run_killed_after_the_check_leaves_the_edits_to_the_next_run(fake, tmp_path):
    loaded_then_edited(fake, tmp_path, 6)
    held = by_external_id(fake)
    # The first re-send is applied, but its answer held until the run is killed.
    gate = fake.hold("PUT /contacts/{contact_id}")
    config = config_for(fake, unknown_attributes="create", notice_intercom_edits=True)
    config.update(max_concurrency=1)
    killed = Cli(tmp_path / "killed", config, users(6))
    try:
        gate.wait_until_held(1)
        # What the sync store says now: neither edited contact holds what was written.
        with sqlite3.connect(config["sync_store_path"]) as store:
            rows = dict(
                store.execute("SELECT intercom_id, fingerprint FROM target_intercom_known_contacts")
            )
        assert rows[held["u1"]["id"]] is None and rows[held["u3"]["id"]] is None
        assert sum(p is None for p in rows.values()) == 2
        os.kill(killed.pid, signal.SIGKILL)
        killed.process.wait(timeout=30)
    finally:
        gate.open()
        if killed.process.poll() is None:
            killed.process.kill()
    run = load(fake, users(6), tmp_path, notice_intercom_edits=True)
    # From the run's own summary: the fake may log the killed run's last call late.
    assert summary(run)["api_calls"]["PUT /contacts/{contact_id}"] == 2
    held = by_external_id(fake)
    assert as_loaded(held["u1"]) == ("User 1", "free")
    assert as_loaded(held["u3"]) == ("User 3", "free")


# The fake's side: what the setting relies on Intercom for.


def search(fake, query: dict) -> requests.Response:
    return requests.post(
        f"{fake.url}/contacts/search",
        json={"query": query},
        headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"},
        timeout=10,
    )


def test_the_fakes_search_matches_timestamps_by_calendar_day(fake):
    midnight = (int(time.time()) // DAY - 10) * DAY  # ten days ago, 00:00 UTC
    ids = {
        name: fake.seed_contact(external_id=name, email=f"{name}@x.io")
        for name in ("before", "morning", "evening", "next")
    }
    for name, at in (
        ("before", midnight - 1),
        ("morning", midnight + 60),
        ("evening", midnight + DAY - 1),
        ("next", midnight + DAY),
    ):
        fake.edit_contact(ids[name], at=at)

    def found(operator: str, value: int) -> set[str]:
        answer = search(fake, {"field": "updated_at", "operator": operator, "value": value})
        assert answer.status_code == 200, answer.text
        return {c["external_id"] for c in answer.json()["data"]} & set(ids)

    noon = midnight + DAY // 2
    assert found(">", noon) == {"next"}  # from the start of the next day
    assert found("=", noon) == {"morning", "evening"}  # the whole day
    assert found("<", noon) == {"before"}  # before the day began
    for operator in ("!=", ">=", "<=", "IN", "NIN"):
        refused = search(fake, {"field": "updated_at", "operator": operator, "value": noon})
        assert refused.status_code == 400, operator


def test_a_teammates_edit_changes_the_contact_and_moves_updated_at(fake):
    contact_id = fake.seed_contact(external_id="u1", email="u1@x.io", name="Ann")
    before = {c["id"]: c for c in fake.contacts()}[contact_id]
    fake.edit_contact(contact_id, name="Anna", custom_attributes={})
    after = {c["id"]: c for c in fake.contacts()}[contact_id]
    assert after["name"] == "Anna"
    assert after["updated_at"] > before["updated_at"]  # even within the same second
    assert fake.call_counts() == {}  # made in the UI, not through the API
    with pytest.raises(ValueError):
        fake.edit_contact("0" * 24, name="Nobody")


@pytest.mark.slow
def test_what_noticing_costs_where_one_percent_of_contacts_change_a_day(fake, tmp_path):
    """5,000 contacts; between two runs the input changes 50 rows (this target's own
    writes) and a teammate edits 50 other contacts. The check costs a search page per 150
    contacts updated in its window, and a re-send per contact someone else edited."""
    load(fake, users(5_000), tmp_path, notice_intercom_edits=True)
    # Days pass: what was loaded was last updated long ago, out of the next check's window.
    long_ago = int(time.time()) - 10 * DAY
    for contact in fake.contacts():
        fake.edit_contact(contact["id"], at=long_ago)
    changed = {f"u{i}": {"name": f"New name {i}"} for i in range(0, 5_000, 100)}
    load(fake, users(5_000, **changed), tmp_path, notice_intercom_edits=True)
    assert fake.call_counts()["PUT /contacts/{contact_id}"] == 50
    held = by_external_id(fake)
    for i in range(50, 5_000, 100):
        fake.edit_contact(held[f"u{i}"]["id"], name="Renamed by hand")

    run = load(fake, users(5_000, **changed), tmp_path, notice_intercom_edits=True)
    calls = summary(run)["api_calls"]
    assert calls == {
        "GET /me": 1,
        "POST /contacts/search": 1,  # 100 contacts updated in the window: one page
        "GET /data_attributes": 1,
        "PUT /contacts/{contact_id}": 50,
    }
    held = by_external_id(fake)
    assert all(held[f"u{i}"]["name"] == f"User {i}" for i in range(50, 5_000, 100))
