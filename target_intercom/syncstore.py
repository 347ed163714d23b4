"""The sync store: rows of what Intercom confirmed, kept across runs, in and out.

So that a re-sync sends only what changed. What the rows mean to the writers is
`writers/known.py`'s business; the tables and their migrations are in syncstore_tables.py.

A daily load of an unchanged table would otherwise cost more than the first one (every
create answers 409 and is followed by an update). The store holds, per contact and per
company, Intercom's id and a fingerprint of what was last written, with the tags and
memberships this target made, so an unchanged row costs no call and a changed one the
update by id.

A row is only ever put here after Intercom confirmed the write it describes, so the store
never claims more than Intercom holds: a kill loses at most the rows not yet flushed, which
costs calls on the next run, never a record. Writes are batched for the same reason they
can be: losing a batch is cheap, a commit per record is not.

SQLite by default (a file beside the Meltano project), any SQLAlchemy URL for runners with
no persistent disk (PostgreSQL). The schema carries its version and migrates forward; a
store written by a newer target is refused rather than rewritten. (A little over 300 lines:
opening a store is most of it, one clear error line for each way a store cannot be used.)
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from target_intercom.errors import FatalError
from target_intercom.syncstore_tables import (
    COMPANIES,
    CONTACTS,
    META,
    MIGRATIONS,
    SCHEMA_VERSION,
    StoredRow,
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
        self, engine: Engine, where: str, *, read_only: bool = False, absent: bool = False
    ) -> None:
        self._engine = engine
        self.where = where
        self._read_only = read_only
        # A dry run with no store yet reads an empty one rather than creating the file.
        self._absent = absent and read_only
        self._opened = False
        # _lock: opening and the reading connection; _pending: the rows not yet written
        # (and the batch being written); _flushing: one batch written at a time.
        self._lock = threading.RLock()
        self._pending = threading.Lock()
        self._flushing = threading.Lock()
        self._connection: Connection | None = None
        self._contacts: dict[str, StoredRow | None] = {}
        self._companies: dict[str, StoredRow | None] = {}
        self._contacts_batch: dict[str, StoredRow | None] = {}
        self._companies_batch: dict[str, StoredRow | None] = {}
        self._meta: dict[str, str] = {}
        self._meta_batch: dict[str, str] = {}
        self._last_flush = time.monotonic()
        self._selects: dict[str, str] = {}
        self._cursor: Any = None

    # Opening

    def open(self, workspace: str | None) -> None:
        """Connects, migrates forward, and checks the store belongs to this workspace: one
        clear line (FatalError) for a store that cannot be reached, written or trusted."""
        self._opened = True
        if self._absent:
            return
        try:
            self._connection = self._engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
            with self._lock:
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
        except sa.exc.SQLAlchemyError as exc:
            raise FatalError(
                f"the sync store {self.where} cannot be used: {_first_line(exc)}"
            ) from None

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
            return connection.execute(sa.select(META.c.value).where(META.c.name == name)).scalar()

    def set_meta(self, name: str, value: str) -> None:
        """Written at once (opening the store)."""
        if self._read_only:
            return
        with self._lock, self._engine.begin() as connection:
            write_meta(connection, {name: value})

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
        """The row filed under this contact key, read from the rows not yet written first."""
        with self._pending:
            for rows in (self._contacts, self._contacts_batch):
                if key in rows:
                    return rows[key]
        with self._lock:
            return self._read(CONTACTS, "key", "companies", key)

    def company(self, company_id: str) -> StoredRow | None:
        """The row of this company, read from the rows not yet written first."""
        with self._pending:
            for rows in (self._companies, self._companies_batch):
                if company_id in rows:
                    return rows[company_id]
        with self._lock:
            return self._read(COMPANIES, "company_id", "members", company_id)

    def _read(
        self, table: sa.Table, key_column: str, links_column: str, key: str
    ) -> StoredRow | None:
        """One row, through the driver's own cursor: a re-sync reads a row per record, and
        SQLAlchemy's statement machinery would cost more CPU than the rest of the record."""
        connection = self._connected()
        if connection is None:
            return None
        sql = self._selects.get(table.name)
        if sql is None:
            mark = "?" if self._engine.dialect.paramstyle == "qmark" else "%s"
            sql = self._selects[table.name] = (
                f"SELECT intercom_id, fingerprint, tags, {links_column} FROM {table.name} "
                f"WHERE {key_column} = {mark}"
            )
        if self._cursor is None:
            self._cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            self._cursor.execute(sql, (key,))
            row = self._cursor.fetchone()
        except self._engine.dialect.loaded_dbapi.Error as exc:
            raise FatalError(f"the sync store {self.where} could not be read: {exc}") from None
        if row is None:
            return None
        return StoredRow(row[0], row[1], _names(row[2]), _names(row[3]))

    def put_contact(self, key: str, stored: StoredRow | None) -> None:
        """What Intercom confirmed for this contact key; None: the key names no contact now.
        Kept in memory until the next batch is written, and read from there meanwhile."""
        if self._read_only:
            return
        with self._pending:
            self._contacts[key] = stored
        self._flush_when_due()

    def put_company(self, company_id: str, stored: StoredRow | None) -> None:
        """What Intercom confirmed for this company; None: it is gone from Intercom."""
        if self._read_only:
            return
        with self._pending:
            self._companies[company_id] = stored
        self._flush_when_due()

    def _flush_when_due(self) -> None:
        pending = len(self._contacts) + len(self._companies) + len(self._meta)
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
        if self._connection is None:  # nothing was read, so nothing can be pending
            return
        with self._pending:
            if not (self._contacts or self._companies or self._meta):
                return
            self._contacts_batch, self._contacts = self._contacts, {}
            self._companies_batch, self._companies = self._companies, {}
            self._meta_batch, self._meta = self._meta, {}
        try:
            with self._engine.begin() as connection:
                replace_rows(connection, CONTACTS, "key", "companies", self._contacts_batch)
                replace_rows(connection, COMPANIES, "company_id", "members", self._companies_batch)
                write_meta(connection, self._meta_batch)
        except sa.exc.SQLAlchemyError as exc:
            raise FatalError(
                f"the sync store {self.where} could not be written: {_first_line(exc)}"
            ) from None
        finally:
            with self._pending:
                self._contacts_batch, self._companies_batch, self._meta_batch = {}, {}, {}

    def close(self) -> None:
        """Flushes what Intercom confirmed, then lets go of the database."""
        if self._connection is None:
            return
        try:
            self.flush()
        finally:
            with self._lock:
                if self._cursor is not None:
                    self._cursor.close()
                    self._cursor = None
                self._connection.close()
                self._connection = None
                self._engine.dispose()


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text and text != "[]" else ()


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return (str(original).strip().splitlines() or [type(original).__name__])[0]


def store_at(path: str, url: str | None, *, read_only: bool) -> SyncStore:
    """The store the settings name, not yet opened (see `SyncStore.open`); one FatalError
    line for a URL that is not one or a folder that does not exist."""
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
            engine = sa.create_engine(parsed, pool_pre_ping=True)
        except (sa.exc.SQLAlchemyError, ImportError) as exc:
            raise FatalError(f"the sync store {where} cannot be used: {_first_line(exc)}") from None
        return SyncStore(engine, where, read_only=read_only)
    file = Path(path).expanduser()
    where = str(file.absolute())
    if not file.parent.is_dir():
        raise FatalError(f"the sync store {where} cannot be created: its folder does not exist")
    engine = sa.create_engine(
        f"sqlite:///{file}",
        # Shared by the writers' threads under the store's lock; a second run on the same
        # file waits for the first one's write instead of failing at once.
        connect_args={"check_same_thread": False, "timeout": 30},
    )
    return SyncStore(engine, where, read_only=read_only, absent=not file.exists())
