"""Hostile cases that used to hang the target, drop input silently or print the token:
each ends in a clean finish or one line and a non-zero exit, with what came before kept."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from fake_intercom import Faults

from tests.conftest import (
    STR,
    TOKEN,
    config_for,
    record,
    run_cli,
    run_target,
    schema,
    state,
)
from tests.test_delivery_e2e import LiveTarget, users_with_states

USERS = schema("users", {"id": STR, "email": STR, "name": STR}, ["id"])
EVENTS = schema("events", {"event": STR, "user_id": STR, "timestamp": {"type": "integer"}})


def test_a_dead_letter_file_that_cannot_be_written_ends_the_run_with_one_line(fake, tmp_path):
    # An event for a contact Intercom does not have is refused by Intercom (a worker's
    # record error); /dev/full refuses every write, as a full disk does.
    messages = [
        EVENTS,
        record("events", {"event": "e", "user_id": "ghost", "timestamp": 1700000000}),
        state({"at": 1}),
    ]
    config = config_for(fake, on_record_error="skip", dead_letter_path="/dev/full")
    run = run_cli(config, messages, tmp_path, timeout=60)
    assert run.returncode == 1
    assert "could not be written to the dead-letter file '/dev/full'" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.states == []


def test_text_that_utf8_cannot_hold_is_dead_lettered_escaped(fake, tmp_path):
    # A lone surrogate: valid in JSON text, not encodable as UTF-8.
    bad = '{"type": "RECORD", "stream": "users", "record": {"name": "\\ud800"}}'
    messages = [USERS, bad, record("users", {"id": "u1", "email": "u1@x.io"}), state({"at": 2})]
    run = run_target(config_for(fake, on_record_error="skip"), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [line] = (tmp_path / "target-intercom.dead-letter.jsonl").read_text().splitlines()
    assert json.loads(line)["record"]["name"] == "\ud800"
    assert {c["external_id"] for c in fake.contacts()} == {"u1"}
    assert run.states == [{"at": 2}]


def test_a_reader_of_stdout_that_goes_away_ends_the_run_with_one_line(fake, tmp_path):
    fake.configure(latency=0.05)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config_for(fake, max_concurrency=2)))
    target = subprocess.Popen(
        [sys.executable, "-m", "target_intercom", "--config", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert target.stdout is not None
    target.stdout.close()
    lines = "".join(json.dumps(m) + "\n" for m in users_with_states(40, 5))
    _, stderr = target.communicate(lines, timeout=60)
    assert target.returncode == 1
    assert "cannot write STATE to stdout" in stderr
    assert "Traceback" not in stderr


def test_sigterm_while_the_backlog_drains_lets_calls_in_flight_finish(fake, tmp_path):
    # The fake holds every create's answer until the test lets it go, so what is in flight
    # at the signal is known rather than timed. 24 users fit in the pool's window (8 records
    # a worker), so the whole input is read at once and the backlog drains after it.
    gate = fake.hold("POST /contacts")
    live = LiveTarget(config_for(fake, max_concurrency=4), tmp_path, users_with_states(24, 4))
    gate.wait_until_held(4)
    gate.release(8)
    gate.wait_until_held(4)  # users 1-8 are in Intercom, 9-12 on the wire
    deadline = time.monotonic() + 30
    while "completed processing" not in live.stderr and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "completed processing 31 lines of input" in live.stderr  # the input has ended
    live.process.send_signal(signal.SIGTERM)
    # It waits for the calls on the wire, however long their answers take...
    with pytest.raises(subprocess.TimeoutExpired):
        live.process.wait(timeout=0.5)
    gate.open()
    assert live.wait(timeout=30) == 1
    assert "stopped by signal 15" in live.stderr
    assert "Traceback" not in live.stderr
    # ... and starts no other call: the twelve answers let through were all there were.
    assert fake.call_counts()["POST /contacts"] == 12
    assert {c["external_id"] for c in fake.contacts()} == {f"u{i}" for i in range(1, 13)}
    # The last STATE is the one the calls that ended during the stop made true.
    assert live.states[-1][1] == {"last": 12}


def test_sigterm_cuts_retry_waits_short(fake, tmp_path):
    # Every create answers 503: each worker sits in backoff between retries, for up to
    # 30 s a wait. A stop must not wait for those retries, only for calls on the wire.
    faults = Faults(rate=1.0, kinds=["503"], paths=["POST /contacts"])
    fake.configure(faults=faults)
    config = config_for(fake, max_concurrency=4, max_retries=8, request_timeout=2)
    live = LiveTarget(config, tmp_path, users_with_states(8, 100))
    live.input_written(timeout=30)
    deadline = time.time() + 30
    while len(fake.calls()) < 12 and time.time() < deadline:
        time.sleep(0.05)
    live.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    code = live.wait(timeout=60)
    assert code == 1
    assert time.monotonic() - signalled < 2 + 3  # request_timeout, and a margin
    assert "stopped by signal 15" in live.stderr
    assert "Traceback" not in live.stderr
    assert live.states == []


def test_a_batch_message_is_refused_before_any_state_after_it(fake, tmp_path):
    batch = {
        "type": "BATCH",
        "stream": "users",
        "encoding": {"format": "jsonl", "compression": "none"},
        "manifest": [(tmp_path / "users.jsonl").as_uri()],
    }
    (tmp_path / "users.jsonl").write_text(json.dumps({"id": "u2", "email": "u2@x.io"}) + "\n")
    messages = [USERS, record("users", {"id": "u1", "email": "u1@x.io"}), batch, state({"at": 2})]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 1
    assert "sent a BATCH message" in run.stderr
    assert run.states == []
    assert {c["external_id"] for c in fake.contacts()} == {"u1"}


def test_a_record_message_without_a_record_object_is_bad_input(fake, tmp_path):
    messages = [
        USERS,
        record("users", {"id": "u1", "email": "u1@x.io"}),
        '{"type": "RECORD", "stream": "users", "record": null}',
        state({"at": 2}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 1
    assert "input line 3 is a RECORD whose record is not a JSON object" in run.stderr
    assert run.states == []
    assert {c["external_id"] for c in fake.contacts()} == {"u1"}


def test_a_token_with_a_crlf_line_end_works_and_is_never_shown(fake, tmp_path):
    config = {**config_for(fake), "access_token": TOKEN + "\r\n"}
    messages = [USERS, record("users", {"id": "u1", "email": "u1@x.io"}), state({"at": 1})]
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert {c["external_id"] for c in fake.contacts()} == {"u1"}
    assert TOKEN not in run.stderr
    assert TOKEN not in run.stdout


def test_json_nested_too_deeply_is_one_line_naming_it(fake, tmp_path):
    deep = '{"type": "RECORD", "stream": "users", "record": {"x": ' + "[" * 5000 + "]" * 5000
    messages = [USERS, record("users", {"id": "u1", "email": "u1@x.io"}), deep + "}}"]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 1
    assert "input line 3 nests JSON too deeply to read" in run.stderr
    assert {c["external_id"] for c in fake.contacts()} == {"u1"}


def test_a_nan_id_is_a_record_error_not_the_external_id_nan(fake, tmp_path):
    messages = [USERS, '{"type": "RECORD", "stream": "users", "record": {"id": NaN}}']
    run = run_target(config_for(fake, validate_records=False), messages, tmp_path)
    assert run.returncode == 1
    assert "external_id is not a finite number" in run.stderr
    assert fake.contacts() == []


def test_a_success_that_is_not_intercoms_json_is_retried_then_named(fake, tmp_path):
    fake.configure(faults=Faults(rate=0.5, kinds=["200_html"], seed=1, paths=["POST /contacts"]))
    messages = [USERS] + [
        record("users", {"id": f"u{i}", "email": f"u{i}@x.io"}) for i in range(20)
    ]
    # One worker, so the seeded faults meet the creates in the same order every run: none
    # gets more than three in a row, where 32 workers drawing in any order could get 11.
    run = run_target(config_for(fake, max_retries=10, max_concurrency=1), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert sorted(c["external_id"] for c in fake.contacts()) == sorted(f"u{i}" for i in range(20))

    fake.configure(faults=Faults(rate=1.0, kinds=["200_html"], paths=["POST /contacts"]))
    again = run_target(
        config_for(fake, max_retries=1), [USERS, record("users", {"id": "x"})], tmp_path
    )
    assert again.returncode == 1
    assert "HTTP 200 with a body that is not JSON (text/html" in again.stderr
    assert "internal error" not in again.stderr


def test_plain_http_to_this_machine_never_goes_through_a_proxy(fake, tmp_path, monkeypatch):
    # A proxy that is not there: a call sent to it fails, a direct call does not.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    messages = [USERS, record("users", {"id": "u1", "email": "u1@x.io"})]
    run = run_target(config_for(fake, max_retries=0), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert {c["external_id"] for c in fake.contacts()} == {"u1"}


def test_a_numeric_token_is_never_shown_by_the_config_check(fake, tmp_path):
    config = {**config_for(fake), "access_token": 987654321}
    run = run_cli(config, [USERS], tmp_path)
    assert run.returncode == 1
    assert "access_token must be a string (its value is not shown)" in run.stderr
    assert "987654321" not in run.stderr


def test_a_token_too_short_to_mask_is_refused_without_being_shown(fake, tmp_path):
    config = {**config_for(fake), "access_token": "ab1"}
    run = run_target(config, [USERS, record("users", {"id": "u1"})], tmp_path)
    assert run.returncode == 1
    assert "access_token is shorter than 8 characters" in run.stderr
    assert "ab1" not in run.stderr
    assert fake.contacts() == []


def test_a_log_that_cannot_be_written_ends_the_run_non_zero(fake, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config_for(fake)))
    lines = "".join(json.dumps(m) + "\n" for m in users_with_states(20, 5))
    with open("/dev/full", "w") as full:  # refuses every write, as a full disk does
        done = subprocess.run(
            [sys.executable, "-m", "target_intercom", "--config", str(path)],
            input=lines,
            stdout=subprocess.PIPE,
            stderr=full,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stdout == ""
