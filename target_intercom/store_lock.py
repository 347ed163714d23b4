"""One run at a time per sync store: a lock taken before the store is read or migrated,
held for the whole run, and let go by the operating system or the database server when
the process ends, however it ends (a `kill -9` leaves nothing stale behind).

Two runs on one store at once (two schedules overlapping, a retried job, two runners on
one PostgreSQL URL) would race to create its tables, and each would file fingerprints of
what it wrote over the other's: a later run then skips as unchanged a row whose value in
Intercom is the other run's. So a second run waits for the first, up to sync_store_wait
seconds, then refuses with one line naming the run that holds the store.

A SQLite store is locked with `flock` on a file beside it (`<store>.lock`), which also
names the run holding it; a PostgreSQL store with a session advisory lock, on the
connection the run writes its rows on: a run whose session is gone (the server restarted
or failed over) cannot write another row, since its lock went with the session.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import time
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from target_intercom.errors import FatalError

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("target-intercom")

# How often a run waiting for the store tries again: a store let go is taken within this.
_TRY_EVERY_SECONDS = 1.0
# A lock file removed by its holder between our open and our lock is opened again, at most
# this many times in one try.
_REMOVED_MEANWHILE_TRIES = 5
# The first half of the advisory lock's key: this target's; the second is the schema's.
_ADVISORY_KEY = 0x1C7E_0A11


def this_run() -> str:
    """How this run is named to a run that waits for it (and, on PostgreSQL, to the
    server's pg_stat_activity): the process and its host."""
    return f"target-intercom {os.getpid()}@{socket.gethostname()}"


class StoreLock(Protocol):
    """A store's lock: taken at most once per run."""

    def try_take(self) -> bool:
        """Takes the lock if no other run holds it; never waits."""

    def holder(self) -> str:
        """The run that held the lock at the last `try_take` that failed, and since when."""

    def release(self) -> None:
        """Lets go of the lock, if taken."""


def take(
    lock: StoreLock,
    where: str,
    wait: float,
    watching: Callable[[], AbstractContextManager[None]],
) -> None:
    """Takes the store's lock, trying again for up to `wait` seconds while another run
    holds it; then one FatalError line naming that run. Each try is a call to the store,
    made under `watching` (its deadline). A stop asked for meanwhile ends the wait (the
    run is at a safe point: the signal handler raises `Interrupted`)."""

    def try_take() -> bool:
        with watching():
            return lock.try_take()

    if try_take():
        return
    started = time.monotonic()
    logger.info(
        "the sync store %s is in use by another run (%s); waiting up to %g s for it "
        "(sync_store_wait)",
        where,
        lock.holder(),
        wait,
    )
    while (left := started + wait - time.monotonic()) > 0:
        time.sleep(min(_TRY_EVERY_SECONDS, left))
        if try_take():
            logger.info(
                "the sync store is free after %.1f s; this run goes on",
                time.monotonic() - started,
            )
            return
    raise FatalError(
        f"the sync store {where} is in use by another run ({lock.holder()}), still after "
        f"{wait:g} s (sync_store_wait): two runs at once would overwrite each other's "
        "record of what Intercom holds; run again once that run has ended (a run that is "
        "stopped or killed frees the store at once), or raise sync_store_wait"
    )


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class FileLock:
    """A SQLite store's lock: `flock` on `<store>.lock`, which names the holder while it
    runs and is removed when it ends (a killed run leaves it, unlocked, for the next).

    A run may open the file just before the holder removes it, and then lock a file no
    other run can open any more: so a lock counts only on the file the path names."""

    def __init__(self, path: Path, where: str) -> None:
        self._path = path
        self._where = where
        self._descriptor: int | None = None

    def try_take(self) -> bool:
        """Takes the lock, then writes this run's name into the file."""
        if fcntl is None:
            logger.warning(
                "the sync store %s cannot be locked against a second run on this platform "
                "(no flock): never start two runs on it at once",
                self._where,
            )
            return True
        for _ in range(_REMOVED_MEANWHILE_TRIES):
            descriptor = self._open()
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                return False
            if self._names(descriptor):
                os.ftruncate(descriptor, 0)
                since = _utc(dt.datetime.now(dt.timezone.utc))
                os.write(descriptor, f"{this_run()} since {since}\n".encode())
                self._descriptor = descriptor
                return True
            os.close(descriptor)  # removed by the run that held it: the next file is it
        return False

    def _open(self) -> int:
        try:
            return os.open(self._path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise FatalError(
                f"the sync store {self._where} cannot be locked against a second run: "
                f"{exc.strerror} ({self._path})"
            ) from None

    def _names(self, descriptor: int) -> bool:
        """Whether the path still names the file open at `descriptor`."""
        try:
            named = os.stat(self._path)
        except FileNotFoundError:
            return False
        opened = os.fstat(descriptor)
        return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)

    def holder(self) -> str:
        """What the holder wrote into the lock file (nothing yet: it has just taken it)."""
        try:
            text = self._path.read_text(errors="replace").strip()
        except OSError:
            text = ""
        return text or "a run that has just started"

    def release(self) -> None:
        """Removes the file, then unlocks it: a run that opened it meanwhile sees it gone."""
        if self._descriptor is not None:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
            os.close(self._descriptor)
            self._descriptor = None


class AdvisoryLock:
    """A PostgreSQL store's lock: a session advisory lock, keyed by the store's schema.

    Each try is made on a new connection, so that the holder's session started when it
    took the lock (pg_stat_activity's backend_start says since when); the winning
    connection is kept as `connection`, for the run's writes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.connection: Connection | None = None
        self._holder = "another run"

    def try_take(self) -> bool:
        """Tries the lock on a new connection; keeps it when the lock is taken."""
        connection = self._engine.connect()
        try:
            schema = connection.exec_driver_sql("select current_schema()").scalar()
            key = zlib.crc32(str(schema).encode()) & 0x7FFF_FFFF
            taken = connection.execute(
                sa.text("select pg_try_advisory_lock(:first, :second)"),
                {"first": _ADVISORY_KEY, "second": key},
            ).scalar()
            if not taken:
                self._holder = self._read_holder(connection, key)
            # Out of the transaction the statements began: the lock is the session's,
            # and a session left idle in a transaction holds back the server's vacuum.
            connection.commit()
        except BaseException:
            _end(connection)
            raise
        if not taken:
            _end(connection)
            return False
        self.connection = connection
        return True

    def _read_holder(self, connection: Connection, key: int) -> str:
        row = connection.execute(
            sa.text(
                "select l.pid, a.application_name, a.client_addr, a.backend_start "
                "from pg_locks l left join pg_stat_activity a on a.pid = l.pid "
                "where l.locktype = 'advisory' and l.granted and l.objsubid = 2 "
                "and l.classid = :first and l.objid = :second "
                "and l.database = (select oid from pg_database "
                "where datname = current_database())"
            ),
            {"first": _ADVISORY_KEY, "second": key},
        ).first()
        if row is None:  # let go between the two statements
            return "a run that has just ended"
        pid, name, address, since = row
        # Another role's session shows no name: the server's process id is still one.
        who = name or f"server process {pid}"
        where = f" from {address}" if address and not name else ""
        return f"{who}{where} since {_utc(since)}" if since else f"{who}{where}"

    def holder(self) -> str:
        """The run that held the lock when it was last tried, from pg_stat_activity."""
        return self._holder

    def release(self) -> None:
        """Ends the session, which lets go of the lock (no statement to a server that
        may not answer any more)."""
        if self.connection is not None:
            _end(self.connection)
            self.connection = None


def _end(connection: Connection) -> None:
    """Closes the session itself, not back into the pool, where it would live on."""
    connection.invalidate()
    connection.close()
