"""A PostgreSQL store that goes silent (its server's processes stopped with SIGSTOP: the
connections stay up and the kernel still takes the bytes, but nothing answers, as in a
failover that drops the network without a reset): the run ends within sync_store_timeout
and a few seconds, exit 1, with one line naming the store; a stop during the silence too.

These tests stop a server of their own, never the session's `postgres`, and let it go on
again (SIGCONT) whatever happens."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import STR, config_for, record, schema, state
from tests.store_runs import Cli

pytestmark = pytest.mark.slow

USERS = schema("users", {"id": STR, "email": STR, "name": STR}, ["id"])
TIMEOUT = 3
SILENT = "did not answer within 3 s (sync_store_timeout)"


def user(i: int, name: str) -> dict:
    return record("users", {"id": f"u{i}", "email": f"u{i}@x.io", "name": name})


class Server:
    """A PostgreSQL server of this module's, which a test can silence."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def _processes(self) -> list[int]:
        """The postmaster and every process it started (the connections' backends)."""
        postmaster = int((Path(self.server.data_dir) / "postmaster.pid").read_text().split()[0])
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == postmaster:
                    children.append(int(entry.name))
        return [postmaster, *children]

    def silence(self) -> None:
        for pid in self._processes():
            os.kill(pid, signal.SIGSTOP)

    def wake(self) -> None:
        for pid in self._processes():
            os.kill(pid, signal.SIGCONT)

    def new_store(self) -> dict[str, str]:
        name = f"store_{uuid.uuid4().hex[:12]}"
        self.server.sql(f"create database {name}")
        s = self.server
        return {"sync_store_url": f"postgresql+psycopg://{s.user}@{s.host}:{s.port}/{name}"}


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[Server]:
    pytest.importorskip("pgserver")
    from tests import postgres_server

    with postgres_server.running() as server:
        yield Server(server)


@pytest.fixture
def server(own_postgres: Server) -> Iterator[Server]:
    try:
        yield own_postgres
    finally:
        own_postgres.wake()


def loaded_store(fake, server: Server, tmp_path: Path, n: int) -> dict[str, Any]:
    """The config of a store that holds n users, loaded by a first run."""
    config = config_for(fake, **server.new_store(), sync_store_timeout=TIMEOUT, request_timeout=2)
    first = [USERS, *[user(i, "V1") for i in range(n)], state({"at": n})]
    code, err = Cli(tmp_path / "first", config, first).end()
    assert code == 0, err[-2000:]
    return config


def resync_until_silent(fake, server: Server, tmp_path: Path) -> Cli:
    """A re-sync that has written ten changed users (their rows still unflushed) when its
    store goes silent; its next records then need the store."""
    config = loaded_store(fake, server, tmp_path, 40)
    run = Cli(tmp_path / "resync", config, None)
    run.send([USERS, *[user(i, "V2") for i in range(10)]])
    deadline = time.monotonic() + 30
    while sum(c.get("name") == "V2" for c in fake.contacts()) < 10:
        assert run.process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    server.silence()
    return run


def test_a_silent_store_mid_run_is_one_line_within_its_timeout(fake, server, tmp_path):
    run = resync_until_silent(fake, server, tmp_path)
    silent_at = time.monotonic()
    run.send([user(i, "V2") for i in range(10, 20)])
    code, err = run.end(timeout=TIMEOUT + 30)
    took = time.monotonic() - silent_at
    errors = [line for line in err.splitlines() if "ERROR" in line]
    assert code == 1
    assert len(errors) == 1 and SILENT in errors[0], err[-3000:]
    assert "Traceback" not in err
    assert took < TIMEOUT + 5


@pytest.mark.parametrize("in_flight", [True, False], ids=["reads in flight", "only a flush"])
def test_a_stop_during_the_silence_ends_the_run_bounded(fake, server, tmp_path, in_flight):
    """SIGTERM while workers wait on the silent store, or while none does and the stop's
    own flush of the rows not yet written is what meets the silence."""
    run = resync_until_silent(fake, server, tmp_path)
    if in_flight:
        run.send([user(i, "V2") for i in range(10, 20)])
        time.sleep(0.5)
    run.process.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    code, err = run.end(timeout=TIMEOUT + 30)
    took = time.monotonic() - stopped
    errors = [line for line in err.splitlines() if "ERROR" in line]
    assert code == 1
    assert "Traceback" not in err
    # The stop's own line ends the run; the store's silence is named once, before it.
    assert len(errors) == 1 and "stopped by signal 15" in errors[0], err[-3000:]
    assert [line for line in err.splitlines() if SILENT in line and "WARNING" in line]
    # request_timeout (2) for calls on the wire, plus the store's own timeout.
    assert took < 2 + TIMEOUT + 5


def test_a_store_silent_from_the_start_is_one_line_before_any_record(fake, server, tmp_path):
    config = loaded_store(fake, server, tmp_path, 3)
    server.silence()
    run = Cli(tmp_path / "second", config, [USERS, user(0, "V2"), state({"at": 1})])
    code, err = run.end(timeout=TIMEOUT + 30)
    errors = [line for line in err.splitlines() if "ERROR" in line]
    assert code == 1
    assert len(errors) == 1 and "sync store" in errors[0], err[-3000:]
    assert run.elapsed < TIMEOUT + 8
    assert fake.contacts()[0]["name"] == "V1"
