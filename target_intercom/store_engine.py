"""The database a sync store lives in: its engine, with a bound on every call, and its
lock against a second run (store_lock.py).

A call to the store that never ends hangs the run, and a stop after it. So a SQLite store
waits at most `timeout` seconds for a lock on its file, and a PostgreSQL store carries the
same bound for connecting (libpq's connect_timeout), for each statement and for each lock
(statement_timeout, lock_timeout); a server that stops answering altogether is the
watchdog's (store_watchdog.py). Values the URL gives for these are kept.

SQLite and PostgreSQL through libpq (psycopg, or psycopg2) only: they are the databases
whose store can be locked against a second run and whose calls can be bounded; any other
URL is refused in one line rather than run unguarded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from target_intercom.errors import FatalError
from target_intercom.store_lock import AdvisoryLock, FileLock, StoreLock, this_run

_LIBPQ_DRIVERS = ("psycopg", "psycopg2")
# The server notices within about this long that a run's host vanished without closing
# its connection (a crash of the machine, a cut network), and lets go of its lock then,
# instead of after the operating system's two hours.
_KEEPALIVE = {"tcp_keepalives_idle": 60, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 6}


@dataclass(frozen=True)
class Database:
    """A store's engine, its lock (None: nothing to lock, an in-memory database), and
    whether its calls go over a socket, for the watchdog to end."""

    engine: Engine
    lock: StoreLock | None
    networked: bool


def sqlite_file(file: Path, where: str, timeout: float) -> Database:
    """A SQLite file, locked through `<file>.lock` beside it."""
    return Database(_sqlite_engine(f"sqlite:///{file}", timeout), _file_lock(file, where), False)


def from_url(url: sa.URL, where: str, timeout: float) -> Database:
    """The database of sync_store_url; one FatalError line for one that cannot be locked
    or bounded."""
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "sqlite":
        name = url.database or ""
        lock = _file_lock(Path(name), where) if name and name != ":memory:" else None
        return Database(_sqlite_engine(url, timeout), lock, False)
    if backend != "postgresql":
        raise FatalError(
            f"the sync store {where} is a {backend} database: a sync store lives in SQLite "
            "(sync_store_path) or PostgreSQL (postgresql+psycopg://...), which can lock it "
            "against a second run and bound every call to it"
        )
    if driver not in _LIBPQ_DRIVERS:
        raise FatalError(
            f"the sync store {where} uses the {driver} driver, whose calls cannot be "
            "bounded: use postgresql+psycopg://... (pip install 'target-intercom[postgres]')"
        )
    engine = sa.create_engine(url, pool_pre_ping=True, connect_args=libpq_args(url, timeout))
    return Database(engine, AdvisoryLock(engine), True)


def libpq_args(url: sa.URL, timeout: float) -> dict[str, Any]:
    """libpq's connection options for the store's bounds and this run's name, leaving
    out each one the URL sets itself (an `options` of the URL's is kept, with ours after
    it for the settings it does not name)."""
    args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        args["connect_timeout"] = max(2, math.ceil(timeout))  # libpq's least
    if "application_name" not in url.query:
        args["application_name"] = this_run()[:63]  # the server's longest name
    given = url.query.get("options", "")
    given = " ".join(given) if isinstance(given, tuple) else given
    milliseconds = max(1, round(timeout * 1000))
    ours = {"statement_timeout": milliseconds, "lock_timeout": milliseconds, **_KEEPALIVE}
    added = [f"-c {name}={value}" for name, value in ours.items() if name not in given]
    if added:
        args["options"] = " ".join([given, *added]).strip()
    return args


def _sqlite_engine(url: str | sa.URL, timeout: float) -> Engine:
    # Shared by the writers' threads under the store's own locks; a reader or writer of
    # the file from elsewhere (a dry run, a person's query) is waited for up to `timeout`.
    return sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": timeout})


def _file_lock(file: Path, where: str) -> FileLock:
    return FileLock(file.with_name(file.name + ".lock"), where)
