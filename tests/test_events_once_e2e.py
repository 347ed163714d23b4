"""Data events sent once: the sync store remembers each event Intercom accepted, so an
events table sent again costs no call, and a new event one; with event_memory_days it
forgets old events and says how many old input events it did not send."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from fake_intercom import Faults

from tests.conftest import INT, STR, config_for, record, run_target, schema, state
from tests.store_runs import kill_after, load, new_store, summary

USERS = schema("users", {"id": STR, "email": STR, "name": STR}, ["id"])
EVENTS = schema(
    "events",
    {"id": INT, "user_id": STR, "email": STR, "event": STR, "timestamp": INT, "page": STR},
    ["id"],
)
NOW = int(time.time())
DAY = 86_400


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def store(request, tmp_path) -> dict[str, str]:
    """A new, empty sync store: a SQLite file, or a database of its own on PostgreSQL."""
    return new_store(request.param, request, tmp_path / "store")


def held_events(store: dict[str, str]) -> int:
    """How many events the store remembers."""
    url = store.get("sync_store_url") or f"sqlite:///{store['sync_store_path']}"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.text("select count(*) from target_intercom_events")
            ).scalar_one()
    finally:
        engine.dispose()


def user(i: int) -> dict:
    return record("users", {"id": f"u{i}", "email": f"u{i}@x.io", "name": f"User {i}"})


def event(n: int, *, who: int | None = None, at: int | None = None, **fields: Any) -> dict:
    """Event n, of user u<n % 5> unless `who` says, named "viewed" at NOW - n days."""
    i = n % 5 if who is None else who
    data = {
        "id": n,
        "user_id": f"u{i}",
        "event": "viewed",
        "timestamp": NOW - n * DAY if at is None else at,
        "page": f"/p{n}",
        **fields,
    }
    return record("events", data)


def table(events: list[dict], *, users_first: bool = True) -> list[dict]:
    users = [USERS, *[user(i) for i in range(5)]]
    stream = [EVENTS, *events]
    body = [*users, *stream] if users_first else [*stream, *users]
    return [*body, state({"at": "end"})]


def event_calls(fake) -> int:
    return fake.call_counts()["POST /events"]


# The fast tier's test of the events table on PostgreSQL too: written, then read.
@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_an_unchanged_events_table_costs_no_call_and_a_new_event_one(fake, store, tmp_path):
    events = [event(n) for n in range(20)]
    first = load(fake, store, table(events), tmp_path)
    assert event_calls(fake) == 20
    assert len(fake.events()) == 20
    assert held_events(store) == 20

    again = load(fake, store, table(events), tmp_path)
    assert fake.call_counts() == {"GET /me": 1}
    totals = summary(again)
    assert totals["streams"]["events"] == {"received": 20, "already_sent": 20}
    assert totals["records_unchanged"] == 25 and totals["records_delivered"] == 0
    # The events settled without a call still let STATE through.
    assert again.states == first.states == [{"at": "end"}]

    load(fake, store, table([*events, event(20, at=NOW - 30)]), tmp_path)
    assert fake.call_counts() == {"GET /me": 1, "POST /events": 1}
    assert len(fake.events()) == 21
    assert held_events(store) == 21


def test_an_event_met_twice_in_one_run_is_sent_once(fake, tmp_path):
    store = {"sync_store_path": str(tmp_path / "sync.db")}
    run = load(fake, store, table([event(1), event(2), event(1)]), tmp_path)
    assert event_calls(fake) == 2
    assert summary(run)["streams"]["events"]["already_sent"] == 1


def test_the_identity_is_contact_name_in_any_case_and_time_not_metadata(fake, tmp_path):
    """Intercom's duplicate rule: the same contact, name (case-insensitive) and created_at
    is the same event whatever its metadata, and Intercom would drop it; another time, name
    or contact is another event."""
    store = {"sync_store_path": str(tmp_path / "sync.db")}
    load(fake, store, table([event(1, event="Signed Up", page="/a")]), tmp_path)
    assert event_calls(fake) == 1
    load(fake, store, table([event(1, event="signed up", page="/b")]), tmp_path)
    assert "POST /events" not in fake.call_counts()
    others = [
        event(1, event="Signed Up", at=NOW - DAY + 1),
        event(1, event="Signed In"),
        event(1, event="Signed Up", who=2),
    ]
    load(fake, store, table(others), tmp_path)
    assert event_calls(fake) == 3
    assert len(fake.events()) == 4
    assert next(e["metadata"]["page"] for e in fake.events()) == "/a"


def test_an_event_by_email_is_remembered_by_its_email_in_any_case(fake, tmp_path):
    store = {"sync_store_path": str(tmp_path / "sync.db")}
    load(fake, store, table([event(1, user_id=None, email="u1@x.io")]), tmp_path)
    assert event_calls(fake) == 1
    load(fake, store, table([event(1, user_id=None, email="U1@X.io")]), tmp_path)
    assert "POST /events" not in fake.call_counts()


def test_an_event_before_its_contact_waits_and_is_remembered_once_sent(fake, store, tmp_path):
    events = [event(n) for n in range(10)]
    load(fake, store, table(events, users_first=False), tmp_path)
    assert len(fake.events()) == 10
    assert held_events(store) == 10
    load(fake, store, table(events, users_first=False), tmp_path)
    assert fake.call_counts() == {"GET /me": 1}


def test_an_event_whose_contact_never_came_is_not_remembered(fake, tmp_path):
    store = {"sync_store_path": str(tmp_path / "sync.db")}
    letters = tmp_path / "dead.jsonl"
    ghost = [EVENTS, event(1, who=9), state({"at": 1})]
    run = load(fake, store, ghost, tmp_path, on_record_error="skip", dead_letter_path=str(letters))
    assert summary(run)["records_skipped"] == 1
    assert held_events(store) == 0
    # Once the contact exists, the same event is sent (and then remembered).
    came = [USERS, record("users", {"id": "u9", "email": "u9@x.io"}), *ghost]
    load(fake, store, came, tmp_path)
    assert event_calls(fake) == 1
    assert len(fake.events()) == 1
    assert held_events(store) == 1


def test_the_store_remembers_exactly_the_events_intercom_accepted(fake, tmp_path):
    """A run that fails on a 500 half way records the events Intercom accepted before it,
    none of the others; the next run sends only those."""
    store = {"sync_store_path": str(tmp_path / "sync.db")}
    events = [event(n) for n in range(40)]
    fake.configure(faults=Faults(rate=0.2, kinds=["500"], seed=3, paths=["POST /events"]))
    config = config_for(fake, **store, max_retries=0, max_concurrency=1)
    failed = run_target(config, table(events), tmp_path)
    assert failed.returncode == 1
    accepted = len(fake.events())
    assert 0 < accepted < 40
    assert held_events(store) == accepted
    fake.configure(faults=Faults())
    load(fake, store, table(events), tmp_path)
    assert event_calls(fake) == 40 - accepted
    assert len(fake.events()) == 40


def test_a_kill_after_intercom_accepted_events_costs_a_resend_not_a_lost_event(fake, tmp_path):
    """Digests are written in batches after Intercom's 202: the events of a killed run that
    the store had not recorded are sent again (Intercom drops the duplicates), and none is
    lost."""
    n = 300
    store = {"sync_store_path": str(tmp_path / "sync.db")}
    events = [event(k, at=NOW - k) for k in range(n)]
    messages = table(events)
    fake.configure(latency=0.02)
    config = config_for(fake, **store, max_concurrency=4)
    kill_after(fake, "POST /events", n // 3, tmp_path / "killed", config, messages)
    fake.configure(latency=0.0)
    accepted = len(fake.events())
    recorded = held_events(store)
    assert 0 < accepted < n
    assert recorded <= accepted
    load(fake, store, messages, tmp_path)
    # Every event the store had not recorded is sent again; Intercom holds each once.
    assert event_calls(fake) == n - recorded
    assert len(fake.events()) == n
    assert held_events(store) == n


def test_full_resync_sends_every_event_again(fake, store, tmp_path):
    events = [event(n) for n in range(8)]
    load(fake, store, table(events), tmp_path)
    run = load(fake, store, table(events), tmp_path, full_resync=True)
    assert event_calls(fake) == 8
    assert summary(run)["streams"]["events"]["sent"] == 8
    # Intercom dropped the duplicates; the store still holds each event once.
    assert len(fake.events()) == 8
    assert held_events(store) == 8
    load(fake, store, table(events), tmp_path)
    assert "POST /events" not in fake.call_counts()


def test_event_memory_days_forgets_old_events_and_reports_old_input(fake, store, tmp_path):
    # Events 0, 10, 20, ... 90 days old.
    events = [event(n) for n in range(0, 100, 10)]
    load(fake, store, table(events), tmp_path)
    assert held_events(store) == 10

    # Remembering 45 days: the store forgets events 50 to 90 days old at the start of the
    # run, and those input events are taken as delivered long ago: no call, reported.
    run = load(fake, store, table(events), tmp_path, event_memory_days=45)
    assert fake.call_counts() == {"GET /me": 1}
    assert held_events(store) == 5
    totals = summary(run)
    assert totals["streams"]["events"] == {
        "received": 10,
        "already_sent": 5,
        "past_event_memory": 5,
    }
    assert totals["records_past_event_memory"] == 5
    assert totals["records_unfinished"] == 0
    warnings = [line for line in run.stderr.splitlines() if "older than event_memory_days" in line]
    assert len(warnings) == 1
    assert "5 events older than event_memory_days were not sent" in warnings[0]
    assert "past event memory" in next(x for x in run.stderr.splitlines() if "Records:" in x)

    # A new old event is not sent either; a new recent one is.
    fresh = [event(200), event(201, at=NOW - 3600)]
    run = load(fake, store, table([*events, *fresh]), tmp_path, event_memory_days=45)
    assert fake.call_counts() == {"GET /me": 1, "POST /events": 1}
    assert summary(run)["records_past_event_memory"] == 6
    # full_resync sends every event, the old ones too.
    load(fake, store, table([*events, *fresh]), tmp_path, event_memory_days=45, full_resync=True)
    assert event_calls(fake) == 12
    assert len(fake.events()) == 12


def test_a_dry_run_reads_the_events_remembered_and_writes_none(fake, tmp_path):
    store = {"sync_store_path": str(tmp_path / "sync.db")}
    events = [event(n) for n in range(5)]
    load(fake, store, table(events), tmp_path)
    before = (tmp_path / "sync.db").stat().st_mtime_ns
    # Remembering 2 days: events 0 and 1 days old are known, 2 to 4 past the memory (a
    # real run would forget them), and one new event would be sent.
    messages = table([*events, event(5, at=NOW - 60)])
    run = load(fake, store, messages, tmp_path, dry_run=True, event_memory_days=2)
    totals = summary(run)
    assert totals["dry_run_would_send"] == {"POST /events": 1}
    assert totals["streams"]["events"] == {
        "received": 6,
        "already_sent": 2,
        "past_event_memory": 3,
        "sent": 1,
    }
    assert held_events(store) == 5
    assert (tmp_path / "sync.db").stat().st_mtime_ns == before
