"""Where the destinations this target set out to surpass (Segment's, RudderStack's and
Customer.io's Intercom destinations) have a rule of their own, and what this target does,
each tried in both shapes rows come in: JSON-shaped records (nested `context`, `traits`,
`properties`) and the flattened rows of Segment's and RudderStack's warehouse tables
(`identifies`, `groups`, `tracks`: `context_*` columns, `received_at`, `timestamp`).
The README's "Rules of other destinations" section says the same, rule by rule."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.conftest import LIST, STR, config_for, record, run_target, schema, state
from tests.test_warehouse_rows_e2e import (
    SEGMENT_GROUPS,
    SEGMENT_IDENTIFIES,
    SEGMENT_TRACKS,
    pipeline,
)
from tests.test_warehouse_rows_e2e import config as warehouse_config
from tests.warehouse_columns import CALL_COLUMNS

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


@pytest.mark.parametrize("shape", ["json", "rows"])
def test_a_member_who_never_comes_costs_one_look_up_a_run(fake, tmp_path, shape):
    # Looked up at the record's turn; at the end of input only this run's writes can have
    # brought it, so the last try asks the store, not Intercom.
    messages = group_messages(shape, ["ghost"])
    for _ in range(2):
        fake.reset_calls()
        run = run_target(shaped_config(fake, shape), messages, tmp_path)
        assert run.returncode == 0, run.stderr
        lookups = fake.call_counts()["GET /contacts/find_by_external_id/{external_id}"]
        assert lookups == 1
        assert summary_of(run.stderr)["members_not_found"] == 1


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


# -- 2. Anonymous calls --------------------------------------------------------------------
# Segment and RudderStack drop a call that names no user id or email, only an anonymous id,
# without a word. Here: not sent, not a record error; counted (`records_anonymous`), one
# warning line at the end by stream, STATE passes them. A run of nothing else fails.

# A Segment message as JSON: `anonymousId` beside a nested `context`.
LIBRARY = {"library": {"name": "analytics.js"}}
CONTEXT = {"type": ["object", "null"]}
EVENTS = schema(
    "events",
    {"user_id": STR, "anonymousId": STR, "event_name": STR, "created_at": STR, "context": CONTEXT},
)
USERS_WITH_CONTEXT = schema(
    "users", {"user_id": STR, "anonymousId": STR, "email": STR, "context": CONTEXT}, ["user_id"]
)


def anonymous_messages(shape: str, n: int) -> list[dict]:
    """`n` anonymous track calls and one anonymous identify, then one identified track."""
    if shape == "json":
        return [
            USERS_WITH_CONTEXT,
            record("users", {"user_id": None, "anonymousId": "a-u", "context": LIBRARY}),
            EVENTS,
            *(
                record(
                    "events",
                    {
                        "event_name": "Viewed",
                        "created_at": T,
                        "anonymousId": f"a{i}",
                        "context": LIBRARY,
                    },
                )
                for i in range(n)
            ),
            record("events", {"user_id": "u1", "event_name": "Paid", "created_at": T}),
        ]
    return [
        SEGMENT_IDENTIFIES,
        record("segment-identifies", pipeline("i-0", anonymous_id="a-u", user_id=None)),
        SEGMENT_TRACKS,
        *(
            record(
                "segment-tracks",
                pipeline(f"t-{i}", anonymous_id=f"a{i}", event="viewed", event_text="Viewed"),
            )
            for i in range(n)
        ),
        record(
            "segment-tracks",
            pipeline("t-paid", anonymous_id="a", user_id="u1", event="paid", event_text="Paid"),
        ),
    ]


T = "2024-01-01T00:00:00+00:00"
IDENTIFIED = [USERS, record("users", {"external_id": "u1", "email": "ann@example.com"})]


@pytest.mark.parametrize("shape", ["json", "rows"])
@pytest.mark.parametrize("on_record_error", ["fail", "skip"])
def test_anonymous_calls_are_not_sent_not_errors_and_reported_once(
    fake, tmp_path, shape, on_record_error
):
    settings: dict[str, Any] = {"on_record_error": on_record_error}
    if on_record_error == "skip":  # 60 in a row: past max_rejected_in_a_row's 50
        settings["dead_letter_path"] = str(tmp_path / "dead.jsonl")
    messages = [*IDENTIFIED, *anonymous_messages(shape, 60), state({"bookmark": 1})]
    run = run_target(shaped_config(fake, shape, **settings), messages, tmp_path)

    assert run.returncode == 0, run.stderr
    assert [e["event_name"] for e in fake.events()] == ["Paid"]
    assert [c["external_id"] for c in fake.contacts()] == ["u1"]
    summary = summary_of(run.stderr)
    assert summary["records_anonymous"] == 61
    assert summary["records_skipped"] == 0 and summary["records_unfinished"] == 0
    (line,) = [line for line in run.stderr.splitlines() if "anonymous call" in line]
    assert "WARNING" in line and "61 anonymous calls not sent (60 events, 1 users)" in line
    assert "anonymous_id_as_user_id" in line
    assert run.states == [{"bookmark": 1}]
    assert not (tmp_path / "dead.jsonl").exists()


@pytest.mark.parametrize("shape", ["json", "rows"])
def test_a_call_naming_no_contact_and_no_anonymous_id_is_still_a_record_error(
    fake, tmp_path, shape
):
    messages = anonymous_messages(shape, 1)
    target = messages[3]["record"]
    target.pop("anonymous_id", None)
    target.pop("anonymousId", None)
    run = run_target(shaped_config(fake, shape), [*IDENTIFIED, *messages], tmp_path)
    assert run.returncode == 1
    assert "no_identity" in run.stderr
    assert fake.events() == []


@pytest.mark.parametrize("shape", ["json", "rows"])
def test_a_run_of_nothing_but_anonymous_calls_fails(fake, tmp_path, shape):
    messages = anonymous_messages(shape, 3)[:-1]  # without the identified one
    run = run_target(shaped_config(fake, shape), [*messages, state({"b": 1})], tmp_path)
    assert run.returncode == 1
    assert "all 4 records of the run were anonymous calls" in run.stderr
    assert run.states == []
    assert fake.events() == [] and fake.contacts() == []


@pytest.mark.parametrize("shape", ["json", "rows"])
def test_once_the_pipeline_has_loaded_a_window_of_only_anonymous_calls_is_green(
    fake, tmp_path, shape
):
    # An hourly incremental run in which only anonymous visitors came: failing it (and
    # holding its STATE) would fail every later run that reads the same window again.
    first = run_target(shaped_config(fake, shape), IDENTIFIED, tmp_path)
    assert first.returncode == 0, first.stderr
    messages = anonymous_messages(shape, 3)[:-1]  # without the identified one
    run = run_target(shaped_config(fake, shape), [*messages, state({"b": 2})], tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.states == [{"b": 2}]
    assert "4 anonymous calls not sent" in run.stderr
    assert fake.events() == [] and [c["external_id"] for c in fake.contacts()] == ["u1"]


@pytest.mark.parametrize("shape", ["json", "rows"])
def test_with_anonymous_id_as_user_id_anonymous_calls_are_sent(fake, tmp_path, shape):
    messages = anonymous_messages(shape, 0)  # the anonymous identify, an identified event
    config = shaped_config(fake, shape, anonymous_id_as_user_id=True)
    run = run_target(config, [*IDENTIFIED, *messages], tmp_path)
    assert run.returncode == 0, run.stderr
    assert sorted(c["external_id"] for c in fake.contacts()) == ["a-u", "u1"]
    assert summary_of(run.stderr)["records_anonymous"] == 0


# -- 3. Last seen --------------------------------------------------------------------------
# Segment's Intercom destination updates last seen (last_request_at) on every identify
# "unless active: false". Here too, for calls: the call's time, unless context.active is
# false; a row's own last_seen_at wins; plain tables are untouched; last_seen_from_calls:
# false turns it off.

T0_UNIX = 1704067200
USERS_AS_CALLS = schema(
    "users",
    {
        "user_id": STR,
        "email": STR,
        "timestamp": STR,
        "last_seen_at": STR,
        "context": CONTEXT,
    },
    ["user_id"],
)


def identify(shape: str, user_id: str, active: bool | None, **extra: Any) -> list[dict]:
    """One identify call made at T0 + 7 s, as a JSON message or an `identifies` row."""
    if shape == "json":
        context: dict[str, Any] = {**LIBRARY}
        if active is not None:
            context["active"] = active
        data = {"user_id": user_id, "timestamp": "2024-01-01T00:00:07Z", "context": context}
        return [USERS_AS_CALLS, record("users", {**data, **extra})]
    row = pipeline(f"i-{user_id}", 7, anonymous_id="a", user_id=user_id, context_active=active)
    return [SEGMENT_IDENTIFIES, record("segment-identifies", {**row, **extra})]


@pytest.mark.parametrize("shape", ["json", "rows"])
def test_an_identify_call_sets_last_seen_unless_it_says_it_was_not_active(fake, tmp_path, shape):
    messages = [
        *identify(shape, "u-unsaid", None, email="a@example.com"),
        *identify(shape, "u-active", True, email="b@example.com"),
        *identify(shape, "u-inactive", False, email="c@example.com"),
        *identify(shape, "u-own", None, email="d@example.com", last_seen_at="2023-06-01T00:00:00Z"),
        USERS,
        record("users", {"external_id": "u-plain", "email": "e@example.com"}),
    ]
    run = run_target(shaped_config(fake, shape), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    seen = {c["external_id"]: c["last_seen_at"] for c in fake.contacts()}
    assert seen == {
        "u-unsaid": T0_UNIX + 7,
        "u-active": T0_UNIX + 7,
        "u-inactive": None,
        "u-own": 1685577600,  # its own last_seen_at
        "u-plain": None,  # a plain table: no call, no time
    }


@pytest.mark.parametrize("shape", ["json", "rows"])
def test_last_seen_from_calls_false_leaves_last_seen_to_the_rows_own_column(fake, tmp_path, shape):
    messages = [
        *identify(shape, "u-active", True, email="b@example.com"),
        *identify(shape, "u-own", None, email="d@example.com", last_seen_at="2023-06-01T00:00:00Z"),
    ]
    run = run_target(shaped_config(fake, shape, last_seen_from_calls=False), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    seen = {c["external_id"]: c["last_seen_at"] for c in fake.contacts()}
    assert seen == {"u-active": None, "u-own": 1685577600}


# -- 4a. Event metadata: 10 keys, price first ----------------------------------------------
# Segment's Intercom destination sends an event's first 5 properties; Intercom 2.16 keeps 10
# metadata keys (facts page: "at most 10 keys (the rest are ignored)"). Here: 10, `price`
# (from revenue and currency) first, then the keys in sorted order, the rest named in a
# warning: the most Intercom keeps, chosen the same way whatever order a tap gives columns.

TWELVE = {"revenue": 12.5, "currency": "EUR", **{k: f"v-{k}" for k in "jihgfedcba"}}
KEPT = {"price": {"amount": 1250, "currency": "eur"}, **{k: f"v-{k}" for k in "abcdefghi"}}


def event_messages(shape: str) -> list[dict]:
    if shape == "json":
        data = {"user_id": "u1", "event": "Order Completed", "created_at": T, "properties": TWELVE}
        return [
            schema(
                "events",
                {"user_id": STR, "event": STR, "created_at": STR, "properties": CONTEXT},
            ),
            record("events", data),
        ]
    columns = {**CALL_COLUMNS, "user_id": STR, "event": STR, "event_text": STR}
    columns.update({k: STR for k in TWELVE})
    columns["revenue"] = {"type": ["number", "null"]}
    row = pipeline("o-1", user_id="u1", event="order_completed", event_text="Order Completed")
    return [
        schema("rudder-order_completed", columns, ["id"]),
        record("rudder-order_completed", {**row, **TWELVE}),
    ]


@pytest.mark.parametrize("shape", ["json", "rows"])
def test_an_event_keeps_ten_metadata_keys_price_first_then_sorted(fake, tmp_path, shape):
    run = run_target(shaped_config(fake, shape), [*IDENTIFIED, *event_messages(shape)], tmp_path)
    assert run.returncode == 0, run.stderr
    (event,) = fake.events()
    assert event["metadata"] == KEPT
    assert next(iter(event["metadata"])) == "price"
    (warning,) = [line for line in run.stderr.splitlines() if "Intercom keeps 10" in line]
    assert "WARNING" in warning and "dropped j " in warning


# -- 4b. A company given as a name ---------------------------------------------------------
# `company: "Acme Inc"` (an identify trait as text) gets company_id = MD5 hex of the name,
# RudderStack's rule. Segment's classic destination hashed the name its own way, so a
# company Segment created is not matched: give the company's id instead.


def company_messages(shape: str, company: Any) -> list[dict]:
    if shape == "json":
        users = schema("users", {"external_id": STR, "email": STR, "company": {}}, ["external_id"])
        data = {"external_id": "u1", "email": "ann@example.com", "company": company}
        return [users, record("users", data)]
    row = pipeline("i-1", anonymous_id="a", user_id="u1", email="ann@example.com")
    if isinstance(company, str):
        return [SEGMENT_IDENTIFIES, record("segment-identifies", {**row, "company": company})]
    columns = {**SEGMENT_IDENTIFIES["schema"]["properties"], "company_id": STR, "company_name": STR}
    flat = {"company_id": company["id"], "company_name": company["name"]}
    return [
        schema("segment-identifies", columns, ["id"]),
        record("segment-identifies", {**row, **flat}),
    ]


@pytest.mark.parametrize("shape", ["json", "rows"])
def test_a_company_given_as_a_name_gets_the_md5_of_the_name_as_its_id(fake, tmp_path, shape):
    run = run_target(shaped_config(fake, shape), company_messages(shape, "Acme Inc"), tmp_path)
    assert run.returncode == 0, run.stderr
    (company,) = fake.companies()
    assert company["company_id"] == hashlib.md5(b"Acme Inc").hexdigest()
    assert company["name"] == "Acme Inc"
    (ann,) = fake.contacts()
    assert fake.memberships() == {(ann["id"], company["id"])}


@pytest.mark.parametrize("shape", ["json", "rows"])
def test_a_company_given_with_its_id_keeps_that_id(fake, tmp_path, shape):
    """How to match a company Segment's destination created: give its id."""
    messages = company_messages(shape, {"id": "acme-1", "name": "Acme Inc"})
    run = run_target(shaped_config(fake, shape), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert [(c["company_id"], c["name"]) for c in fake.companies()] == [("acme-1", "Acme Inc")]


def test_a_dry_run_says_the_record_would_be_set_aside(fake, tmp_path):
    settings = {"on_record_error": "skip", "dry_run": True}
    messages = group_messages("json", ["ghost"])
    run = run_target(config_for(fake, **settings), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert fake.companies() == []
    assert "Dry run would have dead-lettered 1 record to " in run.stderr
    assert "1 companies (members_not_found)" in run.stderr
