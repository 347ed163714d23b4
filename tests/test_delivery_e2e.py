"""Delivery guarantees end to end: STATE as a watermark, faults, and stopping cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

from fake_intercom import Faults

from tests.conftest import LIST, STR, config_for, record, run_target, schema, state

USERS = schema("users", {"id": STR, "email": STR}, ["id"])
COMPANIES = schema("companies", {"company_id": STR, "name": STR, "user_ids": LIST}, ["company_id"])
EVENTS = schema("events", {"event": STR, "user_id": STR, "timestamp": {"type": "integer"}})


class LiveTarget:
    """The target CLI in a subprocess, with each STATE line timestamped as it arrives."""

    def __init__(self, config: dict, tmp_path, lines: list[dict]) -> None:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "target_intercom", "--config", str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        self.states: list[tuple[float, dict]] = []
        self.on_state = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._stderr: list[str] = []
        threading.Thread(
            target=lambda: self._stderr.extend(self.process.stderr), daemon=True
        ).start()
        self._writer = threading.Thread(target=self._write, args=(lines,), daemon=True)
        self._writer.start()

    def _write(self, lines: list[dict]) -> None:
        try:
            for line in lines:
                self.process.stdin.write(json.dumps(line) + "\n")
            self.process.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    def _read(self) -> None:
        for line in self.process.stdout:
            value = json.loads(line)
            self.states.append((time.time(), value))
            if self.on_state is not None:
                self.on_state(value)

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


def test_state_goes_out_within_two_seconds_of_its_records_and_never_before(fake, tmp_path):
    fake.configure(latency=0.1)
    live = LiveTarget(config_for(fake, max_concurrency=1), tmp_path, users_with_states(300, 100))
    assert live.wait() == 0, live.stderr
    assert [value for _, value in live.states] == [{"last": 100}, {"last": 200}, {"last": 300}]
    creates = sorted(c.finished_at for c in fake.calls() if c.route == "POST /contacts")
    assert len(creates) == 300
    for written_at, value in live.states:
        delivered_at = creates[value["last"] - 1]
        assert delivered_at <= written_at < delivered_at + 2.0, (value, written_at - delivered_at)


def test_state_never_runs_ahead_of_delivery_under_concurrency(fake, tmp_path):
    fake.configure(latency=0.02)
    seen_behind: list[tuple[int, int]] = []
    live = LiveTarget(config_for(fake, max_concurrency=16), tmp_path, users_with_states(600, 50))

    def check(value: dict) -> None:
        held = {c["external_id"] for c in fake.contacts()}
        missing = [i for i in range(1, value["last"] + 1) if f"u{i}" not in held]
        if missing:
            seen_behind.append((value["last"], len(missing)))

    live.on_state = check
    assert live.wait() == 0, live.stderr
    assert seen_behind == []
    assert live.states[-1][1] == {"last": 600}


def test_twenty_percent_faults_end_with_everything_exactly_once(fake, tmp_path):
    fake.configure(faults=Faults(rate=0.2, seed=7, timeout=2.0))
    n = 500
    lines = [USERS, COMPANIES, EVENTS]
    for i in range(n):
        lines.append(record("users", {"id": f"u{i}", "email": f"u{i}@x.io"}))
        lines.append(
            record("companies", {"company_id": f"c{i}", "name": f"C{i}", "user_ids": [f"u{i}"]})
        )
        lines.append(record("events", {"event": "e", "user_id": f"u{i}", "timestamp": 1700000000}))
        if i % 100 == 99:
            lines.append(state({"at": i}))
    config = config_for(fake, max_concurrency=16, max_retries=10, request_timeout=1)
    run = run_target(config, lines, tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    contacts = fake.contacts()
    assert sorted(c["external_id"] for c in contacts) == sorted(f"u{i}" for i in range(n))
    assert len(fake.companies()) == n
    assert len(fake.memberships()) == n
    events = fake.events()
    assert len(events) == n
    assert len({e["user_id"] for e in events}) == n
    assert run.states[-1] == {"at": n - 1}
    assert sum(1 for c in fake.calls() if c.status in (0, 500, 502, 503)) > 100


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
