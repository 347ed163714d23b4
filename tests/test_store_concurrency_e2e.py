"""Two runs on one sync store at once (two schedules overlapping, a retried job, two
runners on one PostgreSQL URL), as real CLI processes against one fake Intercom: a run
that finds the store in use waits for it and goes on, or refuses after sync_store_wait in
one line naming the run that holds it; a killed run frees it at once; a stop ends the
wait. Twenty rounds of two runs at once on a new store (neither fails at opening) are
here too; the rounds on a store with updates are test_store_concurrent_updates_e2e.py."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import config_for, record
from tests.store_runs import (
    USERS,
    Cli,
    assert_no_duplicate,
    error_lines,
    names,
    new_store,
    users,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def kind(request) -> str:
    return str(request.param)


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
