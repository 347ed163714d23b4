"""Delivery guarantees end to end: STATE as a watermark, faults, and stopping cleanly.

Two tests are about the process and run the real CLI: when STATE lines reach a pipe (they
must be flushed as they are written, not when the process ends), and SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

from fake_intercom import FAULT_KINDS, Faults
from fake_intercom.faults import FaultPicker

from tests.conftest import LIST, STR, config_for, record, run_target, schema, state

USERS = schema("users", {"id": STR, "email": STR}, ["id"])
COMPANIES = schema("companies", {"company_id": STR, "name": STR, "user_ids": LIST}, ["company_id"])
EVENTS = schema("events", {"event": STR, "user_id": STR, "timestamp": {"type": "integer"}})


class LiveTarget:
    """The target CLI in a subprocess, with each STATE line timestamped as it arrives on
    the pipe."""

    def __init__(self, config: dict, tmp_path, lines: list[dict]) -> None:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        # Python's own buffering, as under Meltano: a STATE must be flushed when written.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "target_intercom", "--config", str(path)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        self.states: list[tuple[float, dict]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._stderr: list[str] = []
        threading.Thread(
            target=lambda: self._stderr.extend(self.process.stderr), daemon=True
        ).start()
        self._writer = threading.Thread(target=self._write, args=(lines,), daemon=True)
        self._writer.start()

    def input_written(self, timeout: float = 30) -> None:
        """Waits until every input line is written and stdin is closed."""
        self._writer.join(timeout=timeout)

    def _write(self, lines: list[dict]) -> None:
        try:
            for line in lines:
                self.process.stdin.write(json.dumps(line) + "\n")
            self.process.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    def _read(self) -> None:
        for line in self.process.stdout:
            self.states.append((time.time(), json.loads(line)))

    def wait(self, timeout: float = 120) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)


def users_with_states(n: int, every: int) -> list[dict]:
    lines = [USERS]
    for i in range(1, n + 1):
        lines.append(record("users", {"id": f"u{i}", "email": f"u{i}@x.io"}))
        if i % every == 0:
            lines.append(state({"last": i}))
    return lines


def test_state_goes_out_within_a_second_of_its_records_and_never_before(fake, tmp_path):
    # One worker, and the fake holds each create's answer until the test lets it go: the
    # first STATE must reach the pipe while the next user's create is still held, which a
    # target that kept STATEs back (in its own buffers or Python's) would not do.
    gate = fake.hold("POST /contacts")
    live = LiveTarget(config_for(fake, max_concurrency=1), tmp_path, users_with_states(18, 6))
    gate.release(6)
    gate.wait_until_held(1)  # users 1-6 are in Intercom, user 7 on the wire
    deadline = time.monotonic() + 30
    while not live.states and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [value for _, value in live.states] == [{"last": 6}]
    assert gate.held == 1
    gate.open()
    assert live.wait() == 0, live.stderr
    assert [value for _, value in live.states] == [{"last": 6}, {"last": 12}, {"last": 18}]
    creates = sorted(c.finished_at for c in fake.calls() if c.route == "POST /contacts")
    assert len(creates) == 18
    for arrived_at, value in live.states:
        delivered_at = creates[value["last"] - 1]
        assert delivered_at <= arrived_at < delivered_at + 1.0, (value, arrived_at - delivered_at)


def test_state_never_runs_ahead_of_delivery_under_concurrency(fake, tmp_path):
    """Checked at the moment the target writes each STATE (on its own thread, before it goes
    on), so that records delivered after it cannot hide a STATE that ran ahead. Faults that
    apply nothing keep some records out of Intercom while they are retried, out of order."""
    no_apply = ("500", "502_html", "503", "drop", "timeout")
    fake.configure(latency=0.02, faults=Faults(rate=0.1, kinds=no_apply, seed=3, timeout=0.3))
    checked: list[int] = []
    ahead: list[tuple[int, list[str]]] = []

    def check(value: dict) -> None:
        held = {c["external_id"] for c in fake.contacts()}
        missing = [f"u{i}" for i in range(1, value["last"] + 1) if f"u{i}" not in held]
        checked.append(value["last"])
        if missing:
            ahead.append((value["last"], missing[:5]))

    config = config_for(fake, max_concurrency=16, max_retries=10, request_timeout=0.2)
    run = run_target(config, users_with_states(200, 1), tmp_path, on_state=check)
    assert run.returncode == 0, run.stderr
    assert ahead == []
    assert checked == [value["last"] for value in run.states]
    assert checked[-1] == 200
    assert checked == sorted(set(checked))


def test_twenty_percent_faults_end_with_everything_exactly_once(fake, tmp_path):
    # Every fault kind, at a fifth of all calls; a "timeout" outlasts request_timeout, so the
    # client gives up on it and retries while the fake still holds the request.
    faults = Faults(rate=0.2, seed=13, timeout=0.5)
    fake.configure(faults=faults)
    n = 40
    lines = [USERS, COMPANIES, EVENTS]
    for i in range(n):
        lines.append(record("users", {"id": f"u{i}", "email": f"u{i}@x.io"}))
        lines.append(
            record("companies", {"company_id": f"c{i}", "name": f"C{i}", "user_ids": [f"u{i}"]})
        )
        lines.append(record("events", {"event": "e", "user_id": f"u{i}", "timestamp": 1700000000}))
        if i % 10 == 9:
            lines.append(state({"at": i}))
    config = config_for(fake, max_concurrency=16, max_retries=10, request_timeout=0.25)
    run = run_target(config, lines, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    contacts = fake.contacts()
    assert sorted(c["external_id"] for c in contacts) == sorted(f"u{i}" for i in range(n))
    assert len(fake.companies()) == n
    assert len(fake.memberships()) == n
    events = fake.events()
    assert len(events) == n
    assert len({e["user_id"] for e in events}) == n
    # STATEs that become true together are written as one: the last, and in input order.
    written = [value["at"] for value in run.states]
    assert written[-1] == n - 1
    assert written == sorted(set(written))

    # The faults were met, every kind of them. In the call log: 500, 502 (the edge's HTML)
    # and 503 answers, connections dropped at once ("drop", "apply_then_drop") and held past
    # request_timeout ("timeout").
    calls = fake.calls()
    faulted = [c for c in calls if c.status in (0, 500, 502, 503)]
    assert len(faulted) > 0.1 * len(calls), (len(faulted), len(calls))
    assert {500, 502, 503} <= {c.status for c in faulted}
    assert any(c.status == 0 and c.elapsed < 0.25 for c in faulted)
    assert any(c.status == 0 and c.elapsed >= 0.5 for c in faulted)
    # Whichever thread asked, the fake drew its faults in its seeded order: the first
    # len(calls) draws show that writes were applied and then dropped too (a GET would have
    # been a plain drop), which the exactly-once assertions above answer for.
    picker = FaultPicker(faults)
    drawn = Counter(picker.pick("POST", "/contacts") for _ in calls)
    assert drawn["apply_then_drop"] > sum(1 for c in calls if c.method == "GET"), drawn
    assert set(FAULT_KINDS) <= set(drawn), drawn


def test_sigterm_stops_cleanly_with_a_true_state(fake, tmp_path):
    fake.configure(latency=0.05)
    live = LiveTarget(config_for(fake, max_concurrency=4), tmp_path, users_with_states(2000, 20))
    deadline = time.time() + 60
    while len(live.states) < 3 and time.time() < deadline:
        time.sleep(0.05)
    live.process.send_signal(signal.SIGTERM)
    code = live.wait(timeout=30)
    assert code == 1
    assert "Traceback" not in live.stderr
    last = live.states[-1][1]["last"]
    held = {c["external_id"] for c in fake.contacts()}
    assert all(f"u{i}" in held for i in range(1, last + 1))
    assert len(held) < 2000
