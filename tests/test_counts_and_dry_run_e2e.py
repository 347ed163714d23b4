"""What a user reads at the end of a run: honest counts, where skipped records went, and
a dry run that says so, shows what it held back, and keeps emails and phones out of INFO."""

from __future__ import annotations

import json

from tests.conftest import LIST, STR, config_for, record, run_target, schema, state

USERS = schema("users", {"id": STR, "email": STR, "name": STR}, ["id"])
COMPANY = {"type": ["object", "null"], "properties": {"id": STR, "name": STR}}
USERS_B2B = schema(
    "users", {"id": STR, "email": STR, "phone": STR, "tags": LIST, "company": COMPANY}, ["id"]
)


def summary_of(stderr: str) -> dict:
    [line] = [line for line in stderr.splitlines() if "SUMMARY: " in line]
    return json.loads(line.partition("SUMMARY: ")[2])


def last_lines(stderr: str, n: int) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()][-n:]


def test_a_skip_run_ends_saying_how_many_were_skipped_and_where(fake, tmp_path):
    dead = tmp_path / "out" / "dead.jsonl"
    messages = [
        USERS,
        record("users", {"id": "u1", "email": "u1@acme.io"}),
        record("users", {"id": "u2", "email": "u2@acme.io"}),
        # Neither an external_id nor an email: Intercom cannot know them (no_identity).
        record("users", {"id": None, "name": "nobody"}),
        record("users", {"id": "u1", "email": "u1@acme.io"}),
        record("users", {"id": None, "name": "nobody either"}),
        state({"at": 5}),
    ]
    config = config_for(fake, on_record_error="skip", dead_letter_path=str(dead))
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.states == [{"at": 5}]
    assert {c["external_id"] for c in fake.contacts()} == {"u1", "u2"}
    assert len(dead.read_text().splitlines()) == 2

    summary = summary_of(run.stderr)
    assert summary["records_received"] == 5
    assert summary["records_delivered"] == 2
    assert summary["records_skipped"] == 2
    # The second u1 is the same as the first: nothing needed sending.
    assert summary["records_unchanged"] == 1
    assert summary["records_would_send"] == 0
    assert summary["records_unfinished"] == 0
    assert "Records: 5 received: 2 delivered, 2 skipped (dead-lettered), 1 unchanged" in (
        run.stderr
    )
    [closing] = last_lines(run.stderr, 1)
    assert f"2 records were skipped and written to {dead}: see why in each line's " in closing
    assert "error_message" in closing and "README: The dead-letter file" in closing


def test_a_clean_skip_run_leaves_no_dead_letter_file(fake, tmp_path):
    messages = [USERS, record("users", {"id": "u1", "email": "u1@acme.io"}), state({"at": 1})]
    run = run_target(config_for(fake, on_record_error="skip"), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert not (tmp_path / "target-intercom.dead-letter.jsonl").exists()
    summary = summary_of(run.stderr)
    assert (summary["records_delivered"], summary["records_skipped"]) == (1, 0)
    assert "skipped and written to" not in run.stderr
    assert run.states == [{"at": 1}]


def test_a_dead_letter_path_that_cannot_be_written_still_fails_at_the_start(fake, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    messages = [USERS, record("users", {"id": "u1", "email": "u1@acme.io"})]
    config = config_for(fake, on_record_error="skip", dead_letter_path=str(blocker / "dead.jsonl"))
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 1
    assert "dead_letter_path" in run.stderr and "cannot be opened for appending" in run.stderr
    assert fake.contacts() == []


def test_a_dry_run_says_so_shows_what_it_would_send_and_writes_nothing(fake, tmp_path):
    emails = [f"user{i}@acme.io" for i in range(4)]
    phones = [f"+1555010{i}" for i in range(4)]
    companies = [{"id": "acme", "name": "Acme"}, {"id": "initech", "name": "Initech"}]
    messages = [USERS_B2B] + [
        record(
            "users",
            {
                "id": f"u{i}",
                "email": emails[i],
                "phone": phones[i],
                "tags": ["vip", "beta"],
                "company": companies[i % 2],
            },
        )
        for i in range(4)
    ]
    messages.append(state({"at": 4}))
    run = run_target(config_for(fake, dry_run=True), messages, tmp_path)
    assert run.returncode == 0, run.stderr

    # Nothing written to Intercom, and no STATE for what was not delivered.
    assert fake.contacts() == [] and fake.companies() == [] and fake.tags() == []
    assert all(
        call.startswith("GET ") or call == "POST /contacts/search" for call in fake.call_counts()
    ), fake.call_counts()
    assert run.states == []

    lines = run.stderr.splitlines()
    banner = "DRY RUN: nothing will be written to Intercom; reads still reach it"
    assert any(banner in line for line in lines[:5]), lines[:5]
    assert "DRY RUN: nothing was written to Intercom" in last_lines(run.stderr, 1)[0]
    assert (
        "Dry run would have sent: 8 POST /tags, 4 POST /contacts, "
        "4 POST /contacts/{contact_id}/companies, 2 POST /companies" in run.stderr
    )
    summary = summary_of(run.stderr)
    assert summary["dry_run"] is True
    assert summary["dry_run_would_send"] == {
        "POST /contacts": 4,
        "POST /tags": 8,
        "POST /contacts/{contact_id}/companies": 4,
        "POST /companies": 2,
    }
    assert summary["records_delivered"] == 0
    assert summary["records_would_send"] == 4
    assert "Stream users: 4 would be created, 4 received" in run.stderr

    # The harness logs at INFO, as the CLI does by default: payloads are DEBUG only.
    for secret in emails + phones:
        assert secret not in run.stderr
    assert "Dry run: would send" not in run.stderr


def test_a_dry_run_logs_each_payload_at_debug(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("TARGET_INTERCOM_LOGLEVEL", "DEBUG")
    messages = [USERS, record("users", {"id": "u1", "email": "u1@acme.io"})]
    run = run_target(config_for(fake, dry_run=True), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [line] = [line for line in run.stderr.splitlines() if "Dry run: would send" in line]
    assert "DEBUG" in line and "POST /contacts {" in line and "u1@acme.io" in line
    assert fake.contacts() == []
