"""A 2xx answer without the body a call needs (empty, `null`, `{}`): a proxy or an edge
that truncates can send one after Intercom applied the call. It is tried again like a 5xx,
never taken for an answer, and after every retry it is the record's error, not a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_intercom import Faults

from tests.conftest import STR, config_for, record, run_cli, run_target, schema, state

USERS = schema("users", {"id": STR, "email": STR, "name": STR}, ["id"])
COMPANIES = schema("companies", {"company_id": STR, "name": STR}, ["company_id"])
EMPTY = ("apply_then_empty", "apply_then_null", "apply_then_empty_object")


@pytest.mark.parametrize("kind", EMPTY)
def test_an_empty_success_is_tried_again_and_every_user_lands_once(fake, tmp_path, kind):
    fake.configure(faults=Faults(rate=0.5, kinds=(kind,), seed=4, paths=["POST /contacts"]))
    users = [
        record("users", {"id": f"u{i}", "email": f"u{i}@x.io", "name": f"U {i}"}) for i in range(12)
    ]
    run = run_target(config_for(fake), [USERS, *users, state({"at": 12})], tmp_path)
    assert run.returncode == 0, run.stderr
    held = sorted(c["external_id"] for c in fake.contacts())
    assert held == sorted(f"u{i}" for i in range(12))
    assert {c["name"] for c in fake.contacts()} == {f"U {i}" for i in range(12)}
    assert run.states == [{"at": 12}]


def test_an_answer_that_stays_empty_is_the_records_error_not_a_crash(fake, tmp_path):
    fake.configure(faults=Faults(rate=1.0, kinds=("apply_then_null",), paths=["POST /companies"]))
    dead = tmp_path / "dead.jsonl"
    config = config_for(fake, on_record_error="skip", dead_letter_path=str(dead), max_retries=2)
    messages = [
        USERS,
        COMPANIES,
        record("users", {"id": "u1", "email": "u1@x.io"}),
        record("companies", {"company_id": "acme", "name": "Acme"}),
        record("users", {"id": "u2", "email": "u2@x.io"}),
        state({"at": 3}),
    ]
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert "internal error" not in run.stderr
    assert sorted(c["external_id"] for c in fake.contacts()) == ["u1", "u2"]
    (letter,) = [json.loads(line) for line in Path(dead).read_text().splitlines()]
    assert letter["record"]["company_id"] == "acme"
    assert letter["error_code"] == "incomplete_answer"
    assert "POST /companies answered 200 without the id it needs" in letter["error_message"]
    assert fake.call_counts()["POST /companies"] == 3  # the first try and two retries
    assert run.states == [{"at": 3}]


def test_an_answer_that_trickles_in_is_bounded_by_request_timeout(fake, tmp_path):
    # One byte every 0.3 s: no single read waits a second, yet an answer takes minutes.
    fake.configure(
        faults=Faults(
            rate=0.5, kinds=("apply_then_trickle",), seed=2, timeout=0.3, paths=["POST /contacts"]
        )
    )
    users = [
        record("users", {"id": f"u{i}", "email": f"u{i}@x.io", "name": f"U {i}"}) for i in range(6)
    ]
    config = config_for(fake, request_timeout=1)
    run = run_cli(config, [USERS, *users, state({"at": 6})], tmp_path, timeout=30)
    assert run.returncode == 0, run.stderr
    assert "was still coming after 1s (request_timeout)" in run.stderr
    assert sorted(c["external_id"] for c in fake.contacts()) == [f"u{i}" for i in range(6)]
    assert run.states == [{"at": 6}]
