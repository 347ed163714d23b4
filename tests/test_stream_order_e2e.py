"""Any stream order: records that need a contact wait for it while it may still come
later in the input, as tap-postgres's alphabetical order (companies, events, users) needs."""

from __future__ import annotations

import json

import pytest

from tests.conftest import INT, STR, config_for, record, run_target, schema, state

USERS = schema("users", {"id": STR, "email": STR}, ["id"])
COMPANIES = schema("companies", {"id": STR, "name": STR, "user_ids": {"type": "array"}}, ["id"])
EVENTS = schema("events", {"event": STR, "user_id": STR, "timestamp": INT})


def event(name: str, user: str, at: int = 1700000000) -> dict:
    return record("events", {"event": name, "user_id": user, "timestamp": at})


def test_companies_then_events_then_users_all_land_and_state_waits_for_them(fake, tmp_path):
    messages = [
        COMPANIES,
        record("companies", {"id": "c1", "name": "Acme", "user_ids": ["u1", "u2"]}),
        state({"at": "companies"}),
        EVENTS,
        *[event("viewed", f"u{1 + i % 2}", 1700000000 + i) for i in range(40)],
        state({"at": "events"}),
        USERS,
        record("users", {"id": "u1", "email": "u1@x.io"}),
        record("users", {"id": "u2", "email": "u2@x.io"}),
        state({"at": "users"}),
    ]
    seen: list[tuple[dict, int, int]] = []

    def at_each_state(value: dict) -> None:
        seen.append((value, len(fake.memberships()), len(fake.events())))

    run = run_target(
        config_for(fake, max_concurrency=4), messages, tmp_path, on_state=at_each_state
    )
    assert run.returncode == 0, run.stderr
    assert sorted(c["external_id"] for c in fake.contacts()) == ["u1", "u2"]
    assert len(fake.memberships()) == 2
    assert len(fake.events()) == 40
    # Every STATE that went out covered delivered records only.
    assert seen[-1] == ({"at": "users"}, 2, 40)
    assert all(v != {"at": "events"} or (m, e) == (2, 40) for v, m, e in seen)


def test_a_contact_that_never_comes_is_a_record_error_at_the_end(fake, tmp_path):
    messages = [
        EVENTS,
        event("lost", "ghost"),
        event("kept", "u1"),
        state({"at": 1}),
        USERS,
        record("users", {"id": "u1", "email": "u1@x.io"}),
        state({"at": 2}),
    ]
    config = config_for(fake, on_record_error="skip")
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [letter] = [
        json.loads(line)
        for line in (tmp_path / "target-intercom.dead-letter.jsonl").read_text().splitlines()
    ]
    assert letter["record"]["user_id"] == "ghost"
    assert "did not come in the input's users stream" in letter["error_message"]
    assert [e["event_name"] for e in fake.events()] == ["kept"]
    assert run.states == [{"at": 2}]


def test_under_fail_a_contact_that_never_comes_fails_the_run_with_no_state_past_it(fake, tmp_path):
    messages = [
        USERS,
        record("users", {"id": "u1", "email": "u1@x.io"}),
        state({"at": 1}),
        EVENTS,
        event("lost", "ghost"),
        state({"at": 2}),
        event("kept", "u1"),
        state({"at": 3}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 1
    assert "names contact 'ghost'" in run.stderr
    assert run.states == [{"at": 1}]


# Two workers read ahead 16 records: 200 waiting ones are twelve times that; the slow
# tier's 2,000 take seconds of CPU.
@pytest.mark.parametrize("n", [200, pytest.param(2000, marks=pytest.mark.slow)])
def test_thousands_of_waiting_records_do_not_stall_the_input(fake, tmp_path, n):
    users = [record("users", {"id": f"u{i}", "email": f"u{i}@x.io"}) for i in range(20)]
    events = [event("viewed", f"u{i % 20}", 1700000000 + i) for i in range(n)]
    messages = [EVENTS, *events, state({"at": "events"}), USERS, *users, state({"at": "end"})]
    run = run_target(config_for(fake, max_concurrency=2), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(fake.events()) == n
    assert run.states[-1] == {"at": "end"}


def test_a_run_that_stops_reading_early_does_not_reject_what_waits_for_later_input(fake, tmp_path):
    """The input stopped at an unknown stream: the user the event waits for may have been
    further on, so the event is left unfinished (no STATE past it), not dead-lettered as
    waiting for a contact that never came."""
    letters = tmp_path / "dead.jsonl"
    messages = [
        EVENTS,
        event("early", "u9"),
        state({"at": 1}),
        schema("schema_migrations", {"version": STR}),
    ]
    run = run_target(
        config_for(fake, on_record_error="skip", dead_letter_path=str(letters)),
        messages,
        tmp_path,
    )
    assert run.returncode == 1
    assert "schema_migrations" in run.error_lines[-1]
    assert not letters.exists() or letters.read_text() == ""
    assert run.states == []
    assert fake.events() == []
    assert '"records_unfinished": 1' in run.stderr
