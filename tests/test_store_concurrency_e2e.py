"""Two runs on one sync store at once (two schedules overlapping, a retried job, two
runners on one PostgreSQL URL): real CLI processes against one fake Intercom, on one
SQLite file and on one PostgreSQL database. Neither fails at opening, no update is lost
to a fingerprint the other run wrote, no contact is doubled; and a run that finds the
store in use waits for it, then refuses in one line naming the run that holds it."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.cli_process import Cli
from tests.conftest import STR, config_for, record, schema, state

USERS = schema("users", {"id": STR, "email": STR, "name": STR}, ["id"])


def users(n: int, name: str) -> list[dict]:
    rows = [record("users", {"id": f"u{i}", "email": f"u{i}@x.io", "name": name}) for i in range(n)]
    return [USERS, *rows, state({"at": n})]


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "ERROR" in line]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def kind(request) -> str:
    return str(request.param)


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


# ------------------------------------------------------------------ 20 rounds at once


ROUNDS = 20


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_runs_at_once_on_a_fresh_store_both_succeed_twenty_rounds(
    fake, backend, tmp_path, request
):
    n = 100
    failures = []
    for round_ in range(ROUNDS):
        fake.reset()
        store = new_store(backend, request, tmp_path / f"store-{round_}")
        config = config_for(fake, **store, max_concurrency=8)
        # Both runs' access checks are answered together: they open the store at once.
        gate = fake.hold("GET /me")
        runs = [
            Cli(tmp_path / f"r{round_}-{side}", config, users(n, f"{side} {round_}"))
            for side in "ab"
        ]
        gate.wait_until_held(2)
        gate.open()
        ended = [run.end() for run in runs]
        failures += [(round_, err[-600:]) for code, err in ended if code != 0]
        assert_no_duplicate(fake)
        assert len(fake.contacts()) == n
    assert failures == []


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_runs_at_once_on_an_existing_store_lose_no_update_twenty_rounds(
    fake, backend, tmp_path, request
):
    """Run A writes V1 and run B writes V2 at once; a third run with V1 must then leave
    V1 in Intercom for every user: none skipped as unchanged on a fingerprint of a value
    the other run overwrote."""
    n = 500
    store = new_store(backend, request, tmp_path / "store")
    config = config_for(fake, **store, max_concurrency=8)
    code, err = Cli(tmp_path / "first", config, users(n, "V0")).end()
    assert code == 0, err[-2000:]
    failures, lost = [], {}
    for round_ in range(ROUNDS):
        v1, v2 = f"V1 {round_}", f"V2 {round_}"
        runs = [
            Cli(tmp_path / f"r{round_}-{side}", config, users(n, value))
            for side, value in (("a", v1), ("b", v2))
        ]
        failures += [(round_, err[-600:]) for code, err in (run.end() for run in runs) if code]
        code, err = Cli(tmp_path / f"r{round_}-c", config, users(n, v1)).end()
        assert code == 0, err[-2000:]
        held = names(fake)
        wrong = sorted(k for k in held if held[k] != v1)
        if wrong:
            lost[round_] = len(wrong)
        assert_no_duplicate(fake)
        assert len(held) == n
    assert failures == [] and lost == {}


# ------------------------------------------------------------------ waiting, refusing


def hold_the_store(fake, folder: Path, config: dict[str, Any]) -> Cli:
    """A run that has opened the store and waits on its input, holding the store."""
    holder = Cli(folder, config, None)
    holder.send([USERS, record("users", {"id": "h", "email": "h@x.io", "name": "H"})])
    deadline = time.monotonic() + 30
    while "h" not in names(fake):
        assert holder.process.poll() is None, holder.end()[1][-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return holder


def test_a_second_run_waits_then_refuses_in_one_line_naming_the_first(
    fake, kind, tmp_path, request
):
    store = new_store(kind, request, tmp_path / "store")
    holder = hold_the_store(fake, tmp_path / "a", config_for(fake, **store))
    second = Cli(tmp_path / "b", config_for(fake, **store, sync_store_wait=2), users(3, "B"))
    second.wait_for("waiting up to 2 s")
    waiting = time.monotonic()
    code, err = second.end()
    waited = time.monotonic() - waiting
    assert code == 1
    line = error_lines(err)[-1]
    assert "is in use by another run" in line
    assert f"target-intercom {holder.pid}@{socket.gethostname()}" in line
    assert "sync_store_wait" in line and "Traceback" not in err
    assert 1.5 <= waited < 2 + 3
    assert "u0" not in names(fake)
    code, err = holder.end()
    assert code == 0, err[-2000:]


def test_a_second_run_waits_for_the_first_and_then_goes_on(fake, kind, tmp_path, request):
    store = new_store(kind, request, tmp_path / "store")
    holder = hold_the_store(fake, tmp_path / "a", config_for(fake, **store))
    second = Cli(tmp_path / "b", config_for(fake, **store, sync_store_wait=60), users(3, "B"))
    second.wait_for("waiting up to 60 s")
    time.sleep(1)
    code, err = holder.end()
    assert code == 0, err[-2000:]
    code, err = second.end()
    assert code == 0, err[-2000:]
    assert "waiting up to 60 s" in err
    assert names(fake) == {"h": "H", "u0": "B", "u1": "B", "u2": "B"}


def test_a_killed_run_frees_the_store_at_once(fake, kind, tmp_path, request):
    store = new_store(kind, request, tmp_path / "store")
    holder = hold_the_store(fake, tmp_path / "a", config_for(fake, **store))
    second = Cli(tmp_path / "b", config_for(fake, **store, sync_store_wait=60), users(3, "B"))
    second.wait_for("waiting up to 60 s")
    os.kill(holder.pid, signal.SIGKILL)
    killed = time.monotonic()
    holder.end()
    code, err = second.end()
    assert code == 0, err[-2000:]
    assert time.monotonic() - killed < 8
    assert names(fake)["u0"] == "B"


def test_a_stop_while_waiting_for_the_store_ends_the_run_at_once(fake, kind, tmp_path, request):
    store = new_store(kind, request, tmp_path / "store")
    holder = hold_the_store(fake, tmp_path / "a", config_for(fake, **store))
    second = Cli(tmp_path / "b", config_for(fake, **store, sync_store_wait=60), users(3, "B"))
    second.wait_for("waiting up to 60 s")
    time.sleep(0.5)
    second.process.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    code, err = second.end()
    assert code == 1 and "stopped by signal 15" in error_lines(err)[-1]
    assert time.monotonic() - stopped < 3
    assert "Traceback" not in err
    code, err = holder.end()
    assert code == 0, err[-2000:]


def test_a_dry_run_does_not_wait_for_a_run_that_holds_the_store(fake, tmp_path):
    store = {"sync_store_path": str(tmp_path / "sync.db")}
    holder = hold_the_store(fake, tmp_path / "a", config_for(fake, **store))
    dry = Cli(
        tmp_path / "b", config_for(fake, **store, dry_run=True, sync_store_wait=60), users(3, "B")
    )
    code, err = dry.end(timeout=30)
    assert code == 0, err[-2000:]
    code, err = holder.end()
    assert code == 0, err[-2000:]
