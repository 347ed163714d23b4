"""The sync store's bounds: the libpq options every PostgreSQL connection carries (the
URL's own kept), the watchdog that ends a call no server answers, and the values an
opening writes, which a process taking no lock (an older target-intercom) may write at
the same moment without either failing."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from target_intercom.errors import FatalError
from target_intercom.store_engine import Database, from_url, libpq_args
from target_intercom.store_watchdog import Watchdog
from target_intercom.syncstore import SyncStore, store_at


def test_every_connection_carries_the_timeout_and_this_run_s_name():
    args = libpq_args(sa.make_url("postgresql+psycopg://u@h/db"), 7.5)
    assert args["connect_timeout"] == 8
    assert args["application_name"].startswith("target-intercom ")
    assert "-c statement_timeout=7500" in args["options"]
    assert "-c lock_timeout=7500" in args["options"]
    assert "-c tcp_keepalives_idle=60" in args["options"]


def test_values_the_url_gives_are_kept():
    url = sa.make_url(
        "postgresql+psycopg://u@h/db?connect_timeout=10&application_name=etl"
        "&options=-c%20statement_timeout%3D120000"
    )
    args = libpq_args(url, 30)
    assert "connect_timeout" not in args and "application_name" not in args
    assert args["options"].startswith("-c statement_timeout=120000 ")
    assert "statement_timeout=30000" not in args["options"]
    assert "-c lock_timeout=30000" in args["options"]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql+pymysql://u@h/db", "is a mysql database"),
        ("postgresql+pg8000://u@h/db", "uses the pg8000 driver"),
    ],
)
def test_a_database_whose_store_cannot_be_locked_or_bounded_is_refused(url, said):
    with pytest.raises(FatalError, match=said):
        from_url(sa.make_url(url), url, 30)


class _Connection:
    """A driver connection as the watchdog sees one: a socket's descriptor."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()


def test_the_watchdog_ends_a_call_no_one_answers():
    ours, theirs = socket.socketpair()
    expired = threading.Event()
    watchdog = Watchdog(0.5, expired.set)
    connection = _Connection(ours)
    watchdog.add_connection(connection)
    started = time.monotonic()
    with watchdog.watching():
        assert ours.recv(1) == b""  # the peer never writes: only the watchdog ends this
    took = time.monotonic() - started
    assert expired.is_set() and 0.5 <= took < 1.5
    ours.close()
    theirs.close()


def test_a_call_that_ends_in_time_is_left_alone():
    expired = threading.Event()
    watchdog = Watchdog(0.3, expired.set)
    ours, theirs = socket.socketpair()
    watchdog.add_connection(_Connection(ours))
    for _ in range(5):
        with watchdog.watching():
            time.sleep(0.1)
    time.sleep(0.5)
    assert not expired.is_set()
    watchdog.stop()
    ours.close()
    theirs.close()


def _race_openings(url: str, rounds: int = 20, runs: int = 4) -> list[str]:
    """Opens a store made before, from `runs` threads at the same moment, `rounds` times,
    with no lock (as an older target-intercom would): the errors, if any. Each opening
    writes the workspace's check and its own time into the store's values."""
    made = store_at("", url, read_only=False)
    made.open("ws")
    made.close()
    errors: list[str] = []
    for _ in range(rounds):
        barrier = threading.Barrier(runs)

        def open_one(barrier: threading.Barrier = barrier) -> None:
            store = _unlocked(url)
            barrier.wait()
            try:
                try:
                    store.open("ws")
                finally:
                    store.close()
            except FatalError as exc:
                errors.append(str(exc))

        threads = [threading.Thread(target=open_one) for _ in range(runs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return errors


def _unlocked(url: str) -> SyncStore:
    store = store_at("", url, read_only=False)
    database = Database(store._engine, None, networked=False)  # noqa: SLF001
    return SyncStore(database, url)


def test_openings_that_race_without_a_lock_all_succeed_on_sqlite(tmp_path):
    assert _race_openings(f"sqlite:///{tmp_path}/race.db") == []


@pytest.mark.slow
def test_openings_that_race_without_a_lock_all_succeed_on_postgres(postgres):
    name = f"race_{uuid.uuid4().hex[:8]}"
    postgres.sql(f"create database {name}")
    try:
        url = f"postgresql+psycopg://{postgres.user}@{postgres.host}:{postgres.port}/{name}"
        assert _race_openings(url) == []
    finally:
        postgres.sql(f"drop database {name} with (force)")
