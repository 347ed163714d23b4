"""Where the destinations this target set out to surpass (Segment's, RudderStack's and
Customer.io's Intercom destinations) have a rule of their own, and what this target does,
each tried in both shapes rows come in: JSON-shaped records (nested `context`, `traits`,
`properties`) and the flattened rows of Segment's and RudderStack's warehouse tables
(`identifies`, `groups`, `tracks`: `context_*` columns, `received_at`, `timestamp`).
The README's "Rules of other destinations" section says the same, rule by rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import LIST, STR, config_for, record, run_target, schema, state
from tests.test_warehouse_rows_e2e import SEGMENT_GROUPS, pipeline
from tests.test_warehouse_rows_e2e import config as warehouse_config

USERS = schema("users", {"external_id": STR, "email": STR}, ["external_id"])
COMPANIES = schema("companies", {"company_id": STR, "name": STR, "user_ids": LIST}, ["company_id"])


def summary_of(stderr: str) -> dict[str, Any]:
    line = next(line for line in stderr.splitlines() if "SUMMARY: " in line)
    return json.loads(line.split("SUMMARY: ", 1)[1])


def group_messages(shape: str, user_ids: list[str]) -> list[dict]:
    """A company named with its members: a companies record listing them (JSON-shaped),
    or one `groups` row per member (warehouse-flattened), each naming the member who made
    the call."""
    if shape == "json":
        return [
            COMPANIES,
            record("companies", {"company_id": "acme", "name": "Acme", "user_ids": user_ids}),
        ]
    return [SEGMENT_GROUPS] + [
        record(
            "segment-groups",
            pipeline(f"g-{n}", n, anonymous_id=f"a-{n}", user_id=u, group_id="acme", name="Acme"),
        )
        for n, u in enumerate(user_ids)
    ]


def shaped_config(fake, shape: str, **settings: Any) -> dict[str, Any]:
    return warehouse_config(fake, **settings) if shape == "rows" else config_for(fake, **settings)


# -- 1. Customer.io: a group naming a user who never arrives -------------------------------
# Customer.io: "If the user doesn't exist in Intercom yet, we'll create or update the company
# but can't attach the user." Here: the company is written and counted, the membership is
# reported (a warning line naming the users, `members_not_found` in the SUMMARY line, the
# record in the dead-letter file under skip), and STATE passes it.


@pytest.mark.parametrize("shape", ["json", "rows"])
def test_a_company_whose_member_never_comes_is_written_and_the_run_is_green(fake, tmp_path, shape):
    messages = [
        USERS,
        record("users", {"external_id": "u1", "email": "ann@example.com"}),
        *group_messages(shape, ["u1", "ghost"]),
        state({"bookmark": 1}),
    ]
    run = run_target(shaped_config(fake, shape), messages, tmp_path)

    assert run.returncode == 0, run.stderr
    (company,) = fake.companies()
    assert (company["company_id"], company["name"]) == ("acme", "Acme")
    (ann,) = fake.contacts()
    assert fake.memberships() == {(ann["id"], company["id"])}
    warnings = [line for line in run.stderr.splitlines() if "'ghost'" in line]
    assert len(warnings) == 1, run.stderr
    assert "WARNING" in warnings[0] and "not attached" in warnings[0]
    summary = summary_of(run.stderr)
    assert summary["members_not_found"] == 1
    assert summary["records_skipped"] == 0 and summary["records_unfinished"] == 0
    assert run.states == [{"bookmark": 1}]


@pytest.mark.parametrize("shape", ["json", "rows"])
def test_under_skip_the_record_is_set_aside_and_its_replay_attaches_the_member(
    fake, tmp_path, shape
):
    dead = tmp_path / "dead.jsonl"
    settings = {"on_record_error": "skip", "dead_letter_path": str(dead)}
    messages = [*group_messages(shape, ["ghost"]), state({"bookmark": 1})]
    run = run_target(shaped_config(fake, shape, **settings), messages, tmp_path)

    assert run.returncode == 0, run.stderr
    assert [c["company_id"] for c in fake.companies()] == ["acme"]
    assert fake.memberships() == set()
    (line,) = [json.loads(text) for text in dead.read_text().splitlines()]
    assert line["error_code"] == "members_not_found"
    assert summary_of(run.stderr)["records_skipped"] == 0  # the company was written
    assert run.states == [{"bookmark": 1}]

    # The user comes into Intercom some other way; the record, replayed, attaches it (the
    # sync store knows the company as written, and must not take the record as unchanged).
    ghost = fake.seed_contact(external_id="ghost", email="ghost@example.com")
    dead.unlink()
    replay = run_target(shaped_config(fake, shape, **settings), messages, tmp_path)
    assert replay.returncode == 0, replay.stderr
    (company,) = fake.companies()
    assert fake.memberships() == {(ghost, company["id"])}
    assert summary_of(replay.stderr)["members_not_found"] == 0


def test_many_companies_missing_members_warn_in_bounded_lines(fake, tmp_path):
    many = [f"u{n}" for n in range(30)]
    messages = [COMPANIES] + [
        record("companies", {"company_id": f"c{n}", "user_ids": many}) for n in range(30)
    ]
    run = run_target(config_for(fake), messages, tmp_path)

    assert run.returncode == 0, run.stderr
    assert len(fake.companies()) == 30
    named = [line for line in run.stderr.splitlines() if "not attached" in line]
    assert len(named) == 20  # one a company, the first 20; the rest are counted
    assert all("and 25 more" in line for line in named)  # each names the first 5 members
    assert summary_of(run.stderr)["members_not_found"] == 30 * 30


def test_an_event_whose_contact_never_comes_is_still_a_record_error(fake, tmp_path):
    """Nothing of it is written: it stays what it was, a record error (fail stops the run)."""
    events = schema("events", {"user_id": STR, "event_name": STR, "created_at": STR})
    messages = [
        events,
        record("events", {"user_id": "ghost", "event_name": "x", "created_at": "2024-01-01"}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode != 0
    assert "contact_not_found" in run.stderr
