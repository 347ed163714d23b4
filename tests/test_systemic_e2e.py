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
