"""Runs on a sync store, for the tests of re-syncs, of two runs at once and of a silent or
killed store: a run in process and its SUMMARY, the real CLI in a subprocess (its input
from a file or from a pipe kept open, its log readable as it comes, or killed mid-run), new
stores, and what the fake Intercom holds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import STR, Run, config_for, record, run_target, schema, state

USERS = schema("users", {"id": STR, "email": STR, "name": STR}, ["id"])


def users(n: int, name: str) -> list[dict]:
    rows = [record("users", {"id": f"u{i}", "email": f"u{i}@x.io", "name": name}) for i in range(n)]
    return [USERS, *rows, state({"at": n})]


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "ERROR" in line]


def new_store(kind: str, request, folder: Path) -> dict[str, str]:
    """The settings of a new, empty store: a file in `folder`, or a database of its own."""
    if kind == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)
        return {"sync_store_path": str(folder / "sync.db")}
    postgres = request.getfixturevalue("postgres")
    name = f"store_{uuid.uuid4().hex[:12]}"
    postgres.sql(f"create database {name}")
    request.addfinalizer(lambda: postgres.sql(f"drop database {name} with (force)"))
    return {
        "sync_store_url": f"postgresql+psycopg://{postgres.user}@{postgres.host}:{postgres.port}/{name}"
    }


def load(fake, store: dict[str, str], messages: list, tmp_path: Path, **settings: Any) -> Run:
    """One in-process run on `store` (its settings), which must succeed; the fake's counts
    are reset first, so that they are this run's calls."""
    fake.reset_calls()
    run = run_target(config_for(fake, **store, **settings), messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def summary(run: Run) -> dict[str, Any]:
    """The run's own counts: its last `SUMMARY: {json}` log line."""
    line = next(x for x in reversed(run.stderr.splitlines()) if "SUMMARY: " in x)
    return json.loads(line.split("SUMMARY: ", 1)[1])


def by_external_id(fake) -> dict[str, dict[str, Any]]:
    return {c["external_id"]: c for c in fake.contacts() if c.get("external_id")}


def kill_after(
    fake, route: str, count: int, folder: Path, config: dict[str, Any], messages: list
) -> None:
    """Runs the real CLI on `messages` and SIGKILLs it once the fake has counted `count`
    calls of `route`; returns when the fake's count of `route` has settled. The calls the
    killed run had in flight are still answered, and counted, after it died: counted as
    the next run's, they would make its figures wrong by up to max_concurrency."""
    killed = Cli(folder, config, messages)
    deadline = time.monotonic() + 60
    while fake.call_counts()[route] < count:
        assert time.monotonic() < deadline, f"{route} was called fewer than {count} times"
        time.sleep(0.01)
    os.kill(killed.pid, signal.SIGKILL)
    killed.process.wait(timeout=10)
    settled_by = time.monotonic() + 10
    while True:
        before = fake.call_counts()[route]
        time.sleep(0.2)
        if fake.call_counts()[route] == before or time.monotonic() > settled_by:
            return


def names(fake) -> dict[str, str]:
    return {c["external_id"]: c.get("name") for c in fake.contacts()}


def assert_no_duplicate(fake) -> None:
    counts = Counter(c["external_id"] for c in fake.contacts())
    assert [k for k, n in counts.items() if n > 1] == []


class Cli:
    """The real CLI in a subprocess, its input from a file (or a pipe kept open)."""

    def __init__(self, folder: Path, config: dict[str, Any], messages: list[dict] | None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(config))
        self.started = time.monotonic()
        command = [sys.executable, "-m", "target_intercom", "--config", "config.json"]
        if messages is None:
            stdin: Any = subprocess.PIPE
        else:
            (folder / "input.jsonl").write_text("".join(json.dumps(m) + "\n" for m in messages))
            stdin = (folder / "input.jsonl").open()
        self.process = subprocess.Popen(
            command,
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=folder,
        )
        if messages is not None:
            stdin.close()
        # stderr is read as it comes, so that a test can wait for a line of the log.
        self._err: list[str] = []
        self._reader = threading.Thread(target=self._read_err, daemon=True)
        self._reader.start()

    def _read_err(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._err.append(line)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        """Returns once the log has a line with `text`; fails if the run ends first."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in list(self._err)):
            assert self.process.poll() is None, "".join(self._err)[-2000:]
            assert time.monotonic() < deadline, "".join(self._err)[-2000:]
            time.sleep(0.02)

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, messages: list[dict]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        self.process.stdin.flush()

    def end(self, timeout: float = 120) -> tuple[int, str]:
        """Closes a piped input, waits for the exit: the exit code and stderr."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the run did not end within {timeout} s:\n" + "".join(self._err)[-3000:]
            ) from None
        self.elapsed = time.monotonic() - self.started
        self._reader.join(timeout=10)
        return self.process.returncode, "".join(self._err)
