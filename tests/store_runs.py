"""Runs of the real CLI on a shared sync store, for the tests of two runs at once and of a
silent store: the CLI in a subprocess (its input from a file or from a pipe kept open, its
log readable as it comes), new stores, and what the fake Intercom holds."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from tests.conftest import STR, record, schema, state

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
