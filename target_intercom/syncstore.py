"""The sync store: rows of what Intercom confirmed, kept across runs, in and out.

So that a re-sync sends only what changed. What the rows mean to the writers is
`writers/known.py`'s business; the tables and their migrations are in syncstore_tables.py.

A daily load of an unchanged table would otherwise cost more than the first one (every
create answers 409 and is followed by an update). The store holds, per contact and per
company, Intercom's id and a fingerprint of what was last written, with the tags and
memberships this target made, so an unchanged row costs no call and a changed one the
update by id.
And per data event Intercom accepted, an 8-byte digest of its identity (with its time,
so that old ones can be forgotten): an event met again costs no call.

A row is only ever put here after Intercom confirmed the write it describes, so the store
never claims more than Intercom holds: a kill loses at most the rows not yet flushed, which
costs calls on the next run, never a record. Writes are batched for the same reason they
can be: losing a batch is cheap, a commit per record is not.

SQLite by default (a file beside the Meltano project), PostgreSQL for runners with no
persistent disk (store_engine.py). The schema carries its version and migrates forward; a
store written by a newer target is refused rather than rewritten. One run at a time holds a
store (store_lock.py), and no call to it waits past sync_store_timeout (store_watchdog.py):
a store that failed is not called again, not even to flush it at the end, so that a stop
is never held up twice. (Over 300 lines: opening a store, with one clear error line for
each way a store cannot be used, and the rows not yet written, read before the database.)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from target_intercom import store_engine
from target_intercom.config_schema import DEFAULTS
from target_intercom.errors import FatalError
from target_intercom.store_driver import missing_driver
from target_intercom.store_engine import Database
from target_intercom.store_lock import AdvisoryLock, take
from target_intercom.store_watchdog import Watchdog
from target_intercom.syncstore_tables import (
    COMPANIES,
    CONTACT_KEYS,
    EVENTS,
    KNOWN_CONTACTS,
    META,
    MIGRATIONS,
    SCHEMA_VERSION,
    StoredRow,
    add_events,
    forget_events,
    forget_fingerprints,
    migrate,
    replace_rows,
    write_meta,
)

# Rows kept in memory before a flush: a kill costs at most this many records' calls again.
FLUSH_EVERY_ROWS = 2_000
FLUSH_EVERY_SECONDS = 5.0


class SyncStore:
    """Reads go to the rows not yet written first, then the database, through one reading
    connection. Rows are written in batches on a connection of their own, and a batch being
    written holds up no reader: 32 workers waiting on one lock cost more CPU than the rows."""

    def __init__(
        self,
        database: Database,
        where: str,
        *,
        read_only: bool = False,
        absent: bool = False,
        timeout: float = DEFAULTS["sync_store_timeout"],
        wait: float = DEFAULTS["sync_store_wait"],
    ) -> None:
        self._engine = database.engine
        self.where = where
        self._read_only = read_only
        # A dry run writes nothing, so it neither waits for the store nor holds it.
        self._store_lock = None if read_only else database.lock
        self._wait = wait
        # Set once a call failed (or the watchdog ended one): every later call raises it.
        self._failure: str | None = None
        self._timeout = timeout
        self._watchdog = Watchdog(timeout, self._timed_out)
        # A read of a file has no socket to shut: it costs no deadline (a re-sync's reads).
        self._networked = database.networked
        if database.networked:
            self._watchdog.watch_engine(self._engine)
        # A dry run with no store yet reads an empty one rather than creating the file.
        self._absent = absent and read_only
        self._opened = False
        # _lock: opening and the reading connection; _pending: the rows not yet written
        # (and the batch being written); _flushing: one batch written at a time.
        self._lock = threading.RLock()
        self._pending = threading.Lock()
        self._flushing = threading.Lock()
        self._connection: Connection | None = None
        # Rows are written on a connection of their own, held for the run: on PostgreSQL
        # the one holding the store's lock, so no row is written once the lock is lost.
        self._writer: Connection | None = None
        # Per table: the rows not yet written, and the batch being written. Keys name an
        # Intercom contact id; contacts are filed by that id, companies by company_id.
        self._keys: _Pending[str] = _Pending()
        self._contacts: _Pending[StoredRow] = _Pending(index=lambda row: row.email)
        self._companies: _Pending[StoredRow] = _Pending()
        # Data events delivered and not yet written (digest: created_at), and the batch
        # being written: a set, never a deletion, so two plain dicts.
        self._events: dict[int, int] = {}
        self._events_batch: dict[int, int] = {}
        # Batches written so far: a read that saw the database before a batch landed and
        # the rows not yet written after it reads again.
        self._written = 0
        # Fingerprints to forget in the database before a write they no longer describe
        # (contact ids, company_ids), in rounds that each cost one commit.
        self._doubts: dict[str, set[str]] = {KNOWN_CONTACTS.name: set(), COMPANIES.name: set()}
        self._doubt_round = 0
        self._doubts_done = 0
        self._meta: dict[str, str] = {}
        self._meta_batch: dict[str, str] = {}
        self._last_flush = time.monotonic()
        self._cursor: Any = None

    # Opening

    def open(self, workspace: str | None) -> None:
        """Takes the store from any other run (waiting up to sync_store_wait), connects,
        migrates forward, and checks the store belongs to this workspace: one clear line
        (FatalError) for a store that cannot be reached, written or trusted."""
        self._opened = True
        if self._absent:
            return
        try:
            if self._store_lock is not None:
                take(self._store_lock, self.where, self._wait, self._watchdog.watching)
            with self._lock, self._watchdog.watching():
                if not self._read_only:
                    self._writer = (
                        self._store_lock.connection
                        if isinstance(self._store_lock, AdvisoryLock)
                        else self._engine.connect()
                    )
                self._connection = self._engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                )
                self._open_tables(workspace)
        except sa.exc.SQLAlchemyError as exc:
            raise self._failed("cannot be used", exc) from None

    def _open_tables(self, workspace: str | None) -> None:
        """Migrates and checks the store, under the store's lock: no other run does this at
        the same time (a migration that moves rows between tables is not safe to run twice
        at once, and the lock is what makes it run once)."""
        version = self._version()
        if version > SCHEMA_VERSION:
            raise FatalError(
                f"the sync store {self.where} was written by a newer target-intercom "
                f"(schema version {version}; this one knows up to {SCHEMA_VERSION}): "
                "upgrade target-intercom, or point sync_store_path elsewhere"
            )
        if version == 0 and self._read_only:
            self._absent = True
            return
        if version < SCHEMA_VERSION and self._read_only:
            raise FatalError(
                f"the sync store {self.where} is at schema version {version} and a "
                "dry run does not migrate it: run once without dry_run first"
            )
        migrate(self._engine, version, MIGRATIONS)
        self._check_workspace(workspace)
        # A store that can be read but not written would fail at its first flush,
        # mid-run: a write now makes that the run's first and only error.
        self.set_meta("opened_at", str(int(time.time())))

    def _version(self) -> int:
        assert self._connection is not None
        if not sa.inspect(self._connection).has_table(META.name):
            return 0
        value = self._connection.execute(
            sa.select(META.c.value).where(META.c.name == "schema_version")
        ).scalar()
        return int(value) if value is not None else 0

    def _check_workspace(self, workspace: str | None) -> None:
        assert self._connection is not None
        if workspace is None:
            return
        held = self.meta("workspace")
        if held is None:
            if not self._read_only:
                self.set_meta("workspace", workspace)
            return
        if held != workspace:
            raise FatalError(
                f"the sync store {self.where} holds the ids of Intercom workspace {held!r}, "
                f"but the access token is for {workspace!r}: give each workspace its own "
                "sync_store_path (or sync_store_url)"
            )

    def _connected(self) -> Connection | None:
        """The reading connection (None: a dry run's store that does not exist yet). The
        CLI opens the store before the first record; a run that skips that (the SDK's test
        runner calls `listen` itself) opens it here, for no workspace in particular."""
        with self._lock:
            if not self._opened:
                self.open(None)
            return None if self._absent else self._connection

    def meta(self, name: str) -> str | None:
        """A value of the store's own (schema version, workspace, listing progress)."""
        with self._pending:
            for values in (self._meta, self._meta_batch):
                if name in values:
                    return values[name]
        with self._lock:
            connection = self._connected()
            if connection is None:
                return None
            self._raise_if_failed()
            try:
                with self._watchdog.watching():
                    return connection.execute(
                        sa.select(META.c.value).where(META.c.name == name)
                    ).scalar()
            except sa.exc.SQLAlchemyError as exc:
                raise self._failed("could not be read", exc) from None

    def set_meta(self, name: str, value: str) -> None:
        """Written at once (opening the store)."""
        if self._read_only:
            return
        assert self._writer is not None
        with self._lock, self._writer.begin():
            write_meta(self._writer, {name: value})

    def note_meta(self, name: str, value: str) -> None:
        """Written with the next batch of rows, in its transaction: after the rows put
        before it, never before them, and at no commit of its own on a hot path."""
        if self._read_only:
            return
        with self._pending:
            self._meta[name] = value
        self._flush_when_due()

    # Contacts and companies

    def contact(self, key: str) -> StoredRow | None:
        """The contact this key is filed under; None when it names none (never filed, or
        its contact was removed)."""
        return self.contacts([key])[key]

    def contacts(self, keys: Sequence[str]) -> dict[str, StoredRow | None]:
        """The contact each key is filed under (None: none), read from the rows not yet
        written first, then with one read of the database for them all: a re-sync asks
        about a batch of records at once instead of one statement per record."""
        while True:
            with self._pending:
                written = self._written
                filed: dict[str, Any] = {key: self._keys.get(key) for key in keys}
            unread = [key for key, intercom_id in filed.items() if intercom_id is _ABSENT]
            rows = {row[-1]: row for row in self._read_many(_CONTACTS_BY_KEYS, unread)}
            found: dict[str, Any] = {}
            with self._pending:
                for key, intercom_id in filed.items():
                    row = rows.get(key)
                    if intercom_id is _ABSENT:
                        intercom_id = None if row is None else row[0]
                    else:
                        row = None
                    held = None if intercom_id is None else self._contacts.get(intercom_id)
                    if held is _ABSENT:
                        held = _row(row) if row is not None and row[1] is not None else _ABSENT
                    found[key] = (intercom_id, held)
                if self._written != written:
                    continue
            return {
                key: self.contact_by_id(intercom_id) if held is _ABSENT else held
                for key, (intercom_id, held) in found.items()
            }

    def contact_by_id(self, intercom_id: str) -> StoredRow | None:
        """What is known of this contact (None: nothing, or it was removed)."""
        with self._pending:
            found = self._contacts.get(intercom_id)
        if found is not _ABSENT:
            return found  # type: ignore[return-value]
        row = self._read(_CONTACT_BY_ID, intercom_id)
        return None if row is None or row[1] is None else _row(row)

    def holders(self, email: str) -> tuple[str, ...]:
        """The contacts known to hold this email (lower case), in no particular order."""
        while True:
            with self._pending:
                written = self._written
            stored = {row[0] for row in self._read_all(_HOLDERS, email)}
            with self._pending:
                if self._written != written:
                    continue
                held = self._contacts.holding(email, stored)
            return tuple(sorted(held))

    def company(self, company_id: str) -> StoredRow | None:
        """The row of this company, read from the rows not yet written first."""
        with self._pending:
            found = self._companies.get(company_id)
        if found is not _ABSENT:
            return found  # type: ignore[return-value]
        row = self._read(_COMPANY, company_id)
        if row is None:
            return None
        return StoredRow(row[0], row[1], _names(row[2]), _names(row[3]), as_of=row[4])

    def _read(self, sql: str, key: str) -> Any:
        rows = self._read_all(sql, key, one=True)
        return rows[0] if rows else None

    def _read_many(self, sql: str, keys: list[str]) -> list[Any]:
        """`sql` with its `IN ({})` filled for these keys, a batch at a time."""
        rows: list[Any] = []
        for start in range(0, len(keys), _KEYS_PER_READ):
            batch = keys[start : start + _KEYS_PER_READ]
            rows += self._read_all(sql.format(", ".join("?" * len(batch))), *batch)
        return rows

    def _read_all(self, sql: str, *params: str, one: bool = False) -> list[Any]:
        """Through the driver's own cursor: a re-sync reads a row per record, and
        SQLAlchemy's statement machinery would cost more CPU than the rest of the record."""
        with self._lock:
            connection = self._connected()
            if connection is None:
                return []
            if self._cursor is None:
                self._cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            if self._engine.dialect.paramstyle != "qmark":
                sql = sql.replace("?", "%s")
            self._raise_if_failed()
            entered = self._networked and self._watchdog.enter()
            try:
                self._cursor.execute(sql, params)
                return [self._cursor.fetchone()] if one else list(self._cursor.fetchall())
            except self._engine.dialect.loaded_dbapi.Error as exc:
                raise self._failed("could not be read", exc) from None
            finally:
                self._watchdog.leave(entered)

    def has_history(self) -> bool:
        """Whether this store holds anything Intercom confirmed (a contact, a company or an
        event): the pipeline has loaded through it before."""
        for table in (KNOWN_CONTACTS, COMPANIES, EVENTS):
            rows = self._read_all(f"SELECT 1 FROM {table.name} LIMIT 1", one=True)
            if rows and rows[0] is not None:
                return True
        return False

    def put_key(self, key: str, intercom_id: str | None) -> None:
        """The contact this key names now (Intercom confirmed it); None: none."""
        self._put(self._keys, key, intercom_id)

    def put_contact(self, intercom_id: str, stored: StoredRow | None) -> None:
        """What Intercom confirmed of this contact; None: it was removed. Kept in memory
        until the next batch is written, and read from there meanwhile."""
        self._put(self._contacts, intercom_id, stored)

    def put_company(self, company_id: str, stored: StoredRow | None) -> None:
        """What Intercom confirmed for this company; None: it is gone from Intercom."""
        self._put(self._companies, company_id, stored)

    def _put(self, pending: _Pending[V], key: str, value: V | None) -> None:
        if self._read_only:
            return
        with self._pending:
            pending.put(key, value)
        self._flush_when_due()

    # Data events

    def event_delivered(self, digest: int) -> bool:
        """Whether the event of this digest was delivered: by this run (not yet written)
        or an earlier one, and not forgotten since (forget_events_before)."""
        with self._pending:
            if digest in self._events or digest in self._events_batch:
                return True
        return self._read(_EVENT, str(digest)) is not None

    def put_event(self, digest: int, created_at: int) -> None:
        """An event Intercom accepted (202), written with the next batch."""
        if self._read_only:
            return
        with self._pending:
            self._events[digest] = created_at
        self._flush_when_due()

    def forget_events_before(self, created_at: int) -> None:
        """Forgets, at once, the events that happened before this time (Unix seconds), so
        that the events table holds a bounded window (event_memory_days); a dry run
        forgets nothing."""
        if self._read_only:
            return
        self._connected()
        connection = self._writer
        if connection is None:
            return
        with self._flushing:
            try:
                self._raise_if_failed()
                with self._watchdog.watching(), connection.begin():
                    forget_events(connection, created_at)
            except sa.exc.SQLAlchemyError as exc:
                raise self._failed("could not be written", exc) from None

    def doubt_contact(self, intercom_id: str) -> None:
        """A write to this contact is about to be sent: until it is confirmed, the store
        must not claim the contact holds what was last written, even after a kill."""
        self._doubt(KNOWN_CONTACTS.name, self._contacts, intercom_id)

    def doubt_company(self, company_id: str) -> None:
        """The same for a company."""
        self._doubt(COMPANIES.name, self._companies, company_id)

    def _doubt(self, table: str, pending: _Pending[StoredRow], key: str) -> None:
        """Forgets the fingerprint in the rows not yet written and, before returning, in
        the database. Workers that doubt at once share one commit: whoever writes takes
        every doubt queued so far."""
        if self._read_only:
            return
        with self._pending:
            pending.forget_fingerprint(key)
            self._doubts[table].add(key)
            mine = self._doubt_round
        with self._flushing:
            connection = self._writer
            if self._doubts_done > mine or connection is None:
                return
            with self._pending:
                doubts = {name: sorted(keys) for name, keys in self._doubts.items()}
                for keys in self._doubts.values():
                    keys.clear()
                taken = self._doubt_round
                self._doubt_round += 1
            try:
                self._raise_if_failed()
                with self._watchdog.watching(), connection.begin():
                    forget_fingerprints(connection, KNOWN_CONTACTS, doubts[KNOWN_CONTACTS.name])
                    forget_fingerprints(connection, COMPANIES, doubts[COMPANIES.name])
            except sa.exc.SQLAlchemyError as exc:
                raise self._failed("could not be written", exc) from None
            self._doubts_done = taken + 1

    def _flush_when_due(self) -> None:
        pending = len(self._keys.rows) + len(self._contacts.rows) + len(self._companies.rows)
        pending += len(self._meta) + len(self._events)
        due = pending >= FLUSH_EVERY_ROWS or (
            pending and time.monotonic() - self._last_flush >= FLUSH_EVERY_SECONDS
        )
        # A batch already being written is enough: the worker that would wait goes on.
        if due and self._flushing.acquire(blocking=False):
            try:
                self._flush()
            finally:
                self._flushing.release()

    def flush(self) -> None:
        """Writes the rows not yet written, in one transaction."""
        with self._flushing:
            self._flush()

    def _flush(self) -> None:
        self._last_flush = time.monotonic()
        connection = self._writer
        if connection is None:  # not opened for writing, so nothing can be pending
            return
        with self._pending:
            tables = (self._keys, self._contacts, self._companies)
            if not (any(t.rows for t in tables) or self._meta or self._events):
                return
            for table in tables:
                table.start_batch()
            self._meta_batch, self._meta = self._meta, {}
            self._events_batch, self._events = self._events, {}
        try:
            self._raise_if_failed()
            with self._watchdog.watching(), connection.begin():
                replace_rows(
                    connection,
                    CONTACT_KEYS,
                    "key",
                    {
                        k: None if v is None else {"intercom_id": v}
                        for k, v in self._keys.batch.items()
                    },
                )
                replace_rows(
                    connection,
                    KNOWN_CONTACTS,
                    "intercom_id",
                    {k: _contact_columns(v) for k, v in self._contacts.batch.items()},
                )
                replace_rows(
                    connection,
                    COMPANIES,
                    "company_id",
                    {k: _company_columns(v) for k, v in self._companies.batch.items()},
                )
                add_events(connection, self._events_batch)
                write_meta(connection, self._meta_batch)
        except sa.exc.SQLAlchemyError as exc:
            raise self._failed("could not be written", exc) from None
        finally:
            with self._pending:
                for table in (self._keys, self._contacts, self._companies):
                    table.end_batch()
                self._meta_batch = {}
                self._events_batch = {}
                self._written += 1

    def close(self) -> None:
        """Flushes what Intercom confirmed (unless the store failed: a store that did not
        answer is not waited for twice), then lets go of the database and of the store.
        A store that failed in this run raises its line again here, at its end."""
        try:
            if self._writer is not None and self._failure is None:
                self.flush()
        finally:
            self._let_go()
        self._raise_if_failed()

    def _let_go(self) -> None:
        self._watchdog.stop()
        failed = self._failure is not None
        if failed:
            # No goodbye to a server that may not answer: every socket is shut first.
            self._watchdog.shut_all()
        with self._lock:
            if self._cursor is not None:
                self._cursor.close()
                self._cursor = None
            # On PostgreSQL the writer is the lock's own connection, ended with the lock.
            owned = isinstance(self._store_lock, AdvisoryLock)
            for connection in (self._connection, None if owned else self._writer):
                if connection is not None and failed:
                    connection.invalidate()
                if connection is not None:
                    connection.close()
            self._connection = self._writer = None
            if self._store_lock is not None:
                self._store_lock.release()
            self._engine.dispose()

    # Failures

    def _timed_out(self) -> None:
        """The watchdog ended a call: the store fails with this line (see store_watchdog)."""
        self._failure = (
            f"the sync store {self.where} did not answer within {self._timeout:g} s "
            "(sync_store_timeout)"
        )

    def _failed(self, doing: str, exc: BaseException) -> FatalError:
        """The line for a call that failed (the watchdog's, when it ended the call); the
        store is not called again in this run."""
        if self._failure is None:
            self._failure = f"the sync store {self.where} {doing}: {_first_line(exc)}"
        return FatalError(self._failure)

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise FatalError(self._failure)


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text and text != "[]" else ()


_ABSENT = object()
V = TypeVar("V")


class _Pending(Generic[V]):
    """One table's rows not yet written (None deletes), and the batch being written; with
    `index`, which keys' rows hold each value of one column (a contact's email), so that a
    look-up by it costs no scan of the rows."""

    def __init__(self, index: Callable[[V], str | None] | None = None) -> None:
        self.rows: dict[str, V | None] = {}
        self.batch: dict[str, V | None] = {}
        self._index = index
        self._indexed: dict[str, set[str]] = {}
        self._indexed_batch: dict[str, set[str]] = {}

    def put(self, key: str, value: V | None) -> None:
        self.rows[key] = value
        if self._index is not None and value is not None:
            held = self._index(value)
            if held is not None:
                self._indexed.setdefault(held, set()).add(key)

    def get(self, key: str) -> V | object | None:
        """The newest row put for this key, or _ABSENT when none waits to be written."""
        for rows in (self.rows, self.batch):
            if key in rows:
                return rows[key]
        return _ABSENT

    def start_batch(self) -> None:
        self.batch, self.rows = self.rows, {}
        self._indexed_batch, self._indexed = self._indexed, {}

    def end_batch(self) -> None:
        self.batch, self._indexed_batch = {}, {}

    def holding(self, value: str, stored: set[str]) -> set[str]:
        """The keys whose newest row holds `value` in the indexed column, given the keys
        whose rows in the database do."""
        candidates = (
            stored | self._indexed.get(value, set()) | self._indexed_batch.get(value, set())
        )
        assert self._index is not None
        held = set()
        for key in candidates:
            row = self.get(key)
            if row is _ABSENT or (row is not None and self._index(row) == value):  # type: ignore[arg-type]
                held.add(key)
        return held

    def forget_fingerprint(self, key: str) -> None:
        for rows in (self.rows, self.batch):
            row = rows.get(key)
            if isinstance(row, StoredRow):
                rows[key] = row._replace(fingerprint=None)


# A contact through one of its keys: the id the key names and, when the contact's row is
# there, what is known of it; a contact by its id; the contacts holding an email; a company.
_CONTACT_BY_KEY = (
    "SELECT k.intercom_id, c.intercom_id, c.fingerprint, c.tags, c.companies, c.external_id, "
    f"c.email, c.as_of, c.updated_at FROM {CONTACT_KEYS.name} k LEFT JOIN "
    f"{KNOWN_CONTACTS.name} c ON c.intercom_id = k.intercom_id WHERE k.key = ?"
)
# _CONTACT_BY_KEY for several keys, each row with its key last.
_CONTACTS_BY_KEYS = _CONTACT_BY_KEY.replace(" FROM ", ", k.key FROM ", 1).replace(
    "k.key = ?", "k.key IN ({})"
)
# Keys per statement: far below every driver's limit on parameters.
_KEYS_PER_READ = 200
_CONTACT_BY_ID = (
    "SELECT intercom_id, intercom_id, fingerprint, tags, companies, external_id, email, "
    f"as_of, updated_at FROM {KNOWN_CONTACTS.name} WHERE intercom_id = ?"
)
_HOLDERS = f"SELECT intercom_id FROM {KNOWN_CONTACTS.name} WHERE email = ?"
_COMPANY = (
    f"SELECT intercom_id, fingerprint, tags, members, as_of FROM {COMPANIES.name} "
    "WHERE company_id = ?"
)
# A delivered event by its digest, given as text (the key of every read here): the CAST
# keeps it a look-up of the primary key (SQLite's rowid) on both databases.
_EVENT = f"SELECT 1 FROM {EVENTS.name} WHERE digest = CAST(? AS BIGINT)"


def _row(row: Any) -> StoredRow:
    """A contact's StoredRow from a _CONTACT_BY_KEY or _CONTACT_BY_ID row."""
    return StoredRow(row[1], row[2], _names(row[3]), _names(row[4]), row[5], row[6], row[7], row[8])


def _contact_columns(row: StoredRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "fingerprint": row.fingerprint,
        "tags": json.dumps(row.tags),
        "companies": json.dumps(row.links),
        "external_id": row.external_id,
        "email": row.email,
        "as_of": row.as_of,
        "updated_at": row.updated_at,
    }


def _company_columns(row: StoredRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "intercom_id": row.intercom_id,
        "fingerprint": row.fingerprint,
        "tags": json.dumps(row.tags),
        "members": json.dumps(row.links),
        "as_of": row.as_of,
    }


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return (str(original).strip().splitlines() or [type(original).__name__])[0]


def store_at(
    path: str,
    url: str | None,
    *,
    read_only: bool,
    timeout: float = DEFAULTS["sync_store_timeout"],
    wait: float = DEFAULTS["sync_store_wait"],
) -> SyncStore:
    """The store the settings name, not yet opened (see `SyncStore.open`); one FatalError
    line for a URL that is not one, or a database or folder that cannot hold a store."""
    if url:
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError:
            raise FatalError(
                "sync_store_url is not a database URL (like "
                "postgresql+psycopg://user:password@host:5432/dbname)"
            ) from None
        where = parsed.render_as_string(hide_password=True)
        try:
            database = store_engine.from_url(parsed, where, timeout)
        except ImportError as exc:
            raise FatalError(missing_driver(where, exc)) from None
        except sa.exc.SQLAlchemyError as exc:
            raise FatalError(f"the sync store {where} cannot be used: {_first_line(exc)}") from None
        return SyncStore(database, where, read_only=read_only, timeout=timeout, wait=wait)
    file = Path(path).expanduser()
    where = str(file.absolute())
    if not file.parent.is_dir():
        raise FatalError(f"the sync store {where} cannot be created: its folder does not exist")
    database = store_engine.sqlite_file(file, where, timeout)
    if not read_only:
        sa.event.listen(database.engine, "connect", _sqlite_journal)
    absent = not file.exists()
    return SyncStore(
        database, where, read_only=read_only, absent=absent, timeout=timeout, wait=wait
    )


def _sqlite_journal(connection: Any, _record: Any) -> None:
    """Write-ahead log, synced at checkpoints: a commit survives the process being killed
    (what the store promises) without an fsync each, which the fingerprints forgotten
    before each changed row's update would otherwise cost."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
