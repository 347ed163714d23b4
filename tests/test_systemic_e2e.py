"""The systemic-failure rule: under `skip`, one cause rejecting every record is not a green
run with its STATE moved past them; a few bad rows among good ones still are."""

from __future__ import annotations

import json

from tests.conftest import STR, config_for, record, run_target, schema, state

USERS = schema("users", {"id": STR, "plan": STR}, ["id"])


def users(count: int, bad: set[int]) -> list[dict]:
    """Users with a STATE after each; the `bad` ones hold an attribute Intercom lacks."""
    messages: list[dict] = [USERS]
    for i in range(count):
        row = {"id": f"u{i}", "plan": "pro"} if i in bad else {"id": f"u{i}"}
        messages += [record("users", row), state({"last": i})]
    return messages


def dead_letters(tmp_path) -> list[dict]:
    path = tmp_path / "target-intercom.dead-letter.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_sixty_of_sixty_rejected_for_one_cause_fail_with_no_state_past_them(fake, tmp_path):
    run = run_target(config_for(fake, on_record_error="skip"), users(60, set(range(60))), tmp_path)
    assert run.returncode == 1
    assert "the last 50 records in a row were all rejected" in run.stderr
    assert "custom attribute 'plan' does not exist" in run.stderr
    assert run.states == []
    assert 50 <= len(dead_letters(tmp_path)) <= 60
    assert fake.contacts() == []


def test_a_few_bad_rows_among_good_ones_are_dead_lettered_and_the_run_is_green(fake, tmp_path):
    messages = users(60, {5, 17, 42})
    run = run_target(config_for(fake, on_record_error="skip"), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert sorted(letter["record"]["id"] for letter in dead_letters(tmp_path)) == [
        "u17",
        "u42",
        "u5",
    ]
    assert len(fake.contacts()) == 57
    assert run.states[-1] == {"last": 59}


def test_bad_rows_at_the_end_still_let_the_last_state_out(fake, tmp_path):
    run = run_target(config_for(fake, on_record_error="skip"), users(10, {8, 9}), tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.states[-1] == {"last": 9}


def test_a_short_run_that_rejects_every_record_for_one_cause_fails(fake, tmp_path):
    run = run_target(config_for(fake, on_record_error="skip"), users(2, {0, 1}), tmp_path)
    assert run.returncode == 1
    assert "the last 2 records in a row were all rejected" in run.stderr
    assert run.states == []
    assert len(dead_letters(tmp_path)) == 2


def test_one_bad_row_alone_is_a_bad_row(fake, tmp_path):
    run = run_target(config_for(fake, on_record_error="skip"), users(1, {0}), tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(dead_letters(tmp_path)) == 1


def test_the_limit_can_be_turned_off(fake, tmp_path):
    config = config_for(fake, on_record_error="skip", max_rejected_in_a_row=0)
    run = run_target(config, users(60, set(range(60))), tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(dead_letters(tmp_path)) == 60
    assert run.states[-1] == {"last": 59}


EVENTS = schema("events", {"user_id": STR, "event_name": STR, "created_at": {"type": "integer"}})


def test_events_for_users_who_never_come_spread_among_good_rows_keep_the_run_green(fake, tmp_path):
    # 60 events whose users never come, never two in a row in the input: each waits for
    # its user, gets a last try at the end, and is dead-lettered there, one after another
    # in the order they end. That is not one cause rejecting everything.
    messages: list[dict] = [USERS, EVENTS]
    for i in range(600):
        messages.append(record("users", {"id": f"u{i}"}))
        if i % 10 == 5:
            event = {"user_id": f"ghost{i}", "event_name": "e", "created_at": 1700000000 + i}
            messages.append(record("events", event))
    messages.append(state({"last": 599}))
    run = run_target(config_for(fake, on_record_error="skip"), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(dead_letters(tmp_path)) == 60
    assert len(fake.contacts()) == 600
    assert run.states == [{"last": 599}]


def test_one_bad_row_in_five_never_stops_the_run_whatever_order_the_rows_end_in(fake, tmp_path):
    # In input order no two bad rows are neighbours; workers finish them in any order.
    messages = users(400, set(range(0, 400, 5)))
    run = run_target(
        config_for(fake, on_record_error="skip", max_rejected_in_a_row=3), messages, tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert len(dead_letters(tmp_path)) == 80
    assert run.states[-1] == {"last": 399}
