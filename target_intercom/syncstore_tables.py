"""The sync store's tables: their schema, its versions, and the statements that write rows.

Kept apart from the store's reading and batching (syncstore.py) so that a schema change
is one new step in MIGRATIONS and nothing else.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

SCHEMA_VERSION = 3


class StoredRow(NamedTuple):
    """One contact's or company's row: Intercom's id, the fingerprint of what was last
    written (None when the id was only found, or a write to it may not have been recorded),
    the tags this target applied, and the companies (for a company: the members) it
    attached. For a contact also its external_id and email as Intercom last showed them:
    an email never hands over a contact that has an external_id of its own."""

    intercom_id: str
    fingerprint: int | None
    tags: tuple[str, ...]
    links: tuple[str, ...]
    external_id: str | None = None
    email: str | None = None
    # When the row whose values were last written was made (Unix milliseconds, from a
    # column the row carries), so that an older row of a history table never overwrites
    # them; None when the row carried no time.
    as_of: int | None = None
    # A contact's `updated_at` as Intercom answered this target's last write: a later one
    # is an edit made by someone else.
    updated_at: int | None = None


METADATA = sa.MetaData()
META = sa.Table(
    "target_intercom_meta",
    METADATA,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
# How records name contacts (keys.contact_by_external_id, keys.contact_by_email), each
# filed under the one Intercom contact it names; what is known of the contact is its own
# row, so every key of a contact sees what any of them wrote.
CONTACT_KEYS = sa.Table(
    "target_intercom_contact_keys",
    METADATA,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("intercom_id", sa.String(64), nullable=False, index=True),
)
KNOWN_CONTACTS = sa.Table(
    "target_intercom_known_contacts",
    METADATA,
    sa.Column("intercom_id", sa.String(64), primary_key=True),
    sa.Column("external_id", sa.Text, nullable=True),
    sa.Column("email", sa.Text, nullable=True, index=True),  # lower case
    # Of the fields and custom attributes last written; NULL when the id was only found.
    sa.Column("fingerprint", sa.BigInteger, nullable=True),
    sa.Column("tags", sa.Text, nullable=False),  # JSON list: tags this target applied
    sa.Column("companies", sa.Text, nullable=False),  # JSON list: company_ids it attached
    sa.Column("as_of", sa.BigInteger, nullable=True),
    sa.Column("updated_at", sa.BigInteger, nullable=True),
)
COMPANIES = sa.Table(
    "target_intercom_companies",
    METADATA,
    sa.Column("company_id", sa.Text, primary_key=True),
    sa.Column("intercom_id", sa.String(64), nullable=False),
    sa.Column("fingerprint", sa.BigInteger, nullable=True),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("members", sa.Text, nullable=False),  # JSON list: contact ids it attached
    sa.Column("as_of", sa.BigInteger, nullable=True),
)
# The data events this target delivered, by a digest of Intercom's own identity of an
# event (its contact, name and created_at): 8 bytes, the table's primary key (SQLite's
# rowid), so a million events cost tens of megabytes, not the events themselves.
EVENTS = sa.Table(
    "target_intercom_events",
    METADATA,
    sa.Column("digest", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)
# Version 1 filed everything under each key: a fingerprint written by a record by email
# was not seen by the record by external_id of the same contact.
_V1_CONTACTS = sa.Table(
    "target_intercom_contacts",
    sa.MetaData(),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("intercom_id", sa.String(64), nullable=False),
    sa.Column("fingerprint", sa.BigInteger, nullable=True),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("companies", sa.Text, nullable=False),
)
_BY_EXTERNAL_ID = "contact:external_id:"
_BY_EMAIL = "contact:email:"


def _create_v1(connection: Connection) -> None:
    for table in (META, _V1_CONTACTS, COMPANIES):
        table.create(connection, checkfirst=True)


def _contacts_per_contact(connection: Connection) -> None:
    """Version 2: one row per Intercom contact, reached from any of its keys. A contact's
    rows under several keys become one: their fingerprint if they agree (else none: the
    next record costs a call, never a skip), the union of the tags and companies this
    target applied. A contact known only by email may have an external_id of its own that
    version 1 never recorded, so the workspace is listed again before an email is trusted
    to name a user without one."""
    for table in (CONTACT_KEYS, KNOWN_CONTACTS):
        table.create(connection, checkfirst=True)
    if not sa.inspect(connection).has_table(_V1_CONTACTS.name):
        # Dropped by a step killed before it recorded the new version: SQLite's driver
        # runs a DROP outside the transaction when no row was moved before it, so there
        # was nothing to move.
        return
    rows = connection.execute(
        sa.select(_V1_CONTACTS).order_by(_V1_CONTACTS.c.intercom_id)
    ).mappings()
    merged: dict[str, dict[str, Any]] = {}
    unsure = False
    for row in rows:
        key, intercom_id = row["key"], row["intercom_id"]
        connection.execute(sa.insert(CONTACT_KEYS).values(key=key, intercom_id=intercom_id))
        if merged and intercom_id not in merged:
            unsure |= _insert_merged(connection, merged)
        known = merged.setdefault(
            intercom_id, {"prints": set(), "tags": set(), "companies": set(), "keys": []}
        )
        known["prints"].add(row["fingerprint"])
        known["tags"].update(json.loads(row["tags"]))
        known["companies"].update(json.loads(row["companies"]))
        known["keys"].append(key)
    unsure |= _insert_merged(connection, merged)
    _V1_CONTACTS.drop(connection)
    if unsure:
        connection.execute(
            sa.delete(META).where(META.c.name.in_(["contacts_listed", "contact_searches"]))
        )


def _insert_merged(connection: Connection, merged: dict[str, dict[str, Any]]) -> bool:
    """Writes the contacts gathered so far; whether one was known only by email."""
    unsure = False
    for intercom_id, known in merged.items():
        external_id = next(
            (k[len(_BY_EXTERNAL_ID) :] for k in known["keys"] if k.startswith(_BY_EXTERNAL_ID)),
            None,
        )
        email = next((k[len(_BY_EMAIL) :] for k in known["keys"] if k.startswith(_BY_EMAIL)), None)
        unsure |= external_id is None
        prints = known["prints"]
        connection.execute(
            sa.insert(KNOWN_CONTACTS).values(
                intercom_id=intercom_id,
                external_id=external_id,
                email=email,
                fingerprint=next(iter(prints)) if len(prints) == 1 else None,
                tags=json.dumps(sorted(known["tags"])),
                companies=json.dumps(sorted(known["companies"])),
            )
        )
    merged.clear()
    return unsure


def _history_and_events(connection: Connection) -> None:
    """Version 3: each row's time (a history table's older rows never overwrite a newer
    one's values), a contact's `updated_at` as Intercom answered this target (edits made
    in Intercom are noticed), and the data events delivered (an unchanged events table
    costs no call). Every row starts without them: the next write of each fills them in."""
    added = (
        (KNOWN_CONTACTS, "as_of"),
        (KNOWN_CONTACTS, "updated_at"),
        (COMPANIES, "as_of"),
    )
    for table, column in added:
        held = {c["name"] for c in sa.inspect(connection).get_columns(table.name)}
        if column not in held:
            connection.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column} BIGINT"))
    EVENTS.create(connection, checkfirst=True)


# MIGRATIONS[n] brings a store at version n to version n + 1; a new version appends a step.
MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    _create_v1,
    _contacts_per_contact,
    _history_and_events,
)


def migrate(engine: Engine, version: int, steps: Sequence[Callable[[Connection], None]]) -> None:
    """Applies steps[version:] in order, each in its own transaction with its new version."""
    for number in range(version, len(steps)):
        with engine.begin() as connection:
            steps[number](connection)
            write_meta(connection, {"schema_version": str(number + 1)})


def write_meta(connection: Connection, values: dict[str, str]) -> None:
    """Writes meta values in the caller's transaction, as upserts: two processes writing
    one value at once (both opening a new store) both succeed, where a delete and an
    insert would fail one of them on the name's key."""
    # SQLite's and PostgreSQL's insert, the two that hold a store, each with its upsert;
    # imported by name, so that a SQLite store loads nothing of PostgreSQL's dialect.
    insert = importlib.import_module(f"sqlalchemy.dialects.{connection.dialect.name}").insert
    for name, value in values.items():
        connection.execute(
            insert(META)
            .values(name=name, value=value)
            .on_conflict_do_update(index_elements=[META.c.name], set_={"value": value})
        )


def replace_rows(
    connection: Connection,
    table: sa.Table,
    key_column: str,
    rows: dict[str, dict[str, Any] | None],
) -> None:
    """Deletes then inserts: the same on SQLite and PostgreSQL, no dialect's upsert needed.
    A row of None deletes the key's row."""
    if not rows:
        return
    keys = list(rows)
    for start in range(0, len(keys), 500):
        connection.execute(
            sa.delete(table).where(table.c[key_column].in_(keys[start : start + 500]))
        )
    fresh = [{key_column: key, **row} for key, row in rows.items() if row is not None]
    if fresh:
        connection.execute(sa.insert(table), fresh)


def add_events(connection: Connection, events: dict[int, int]) -> None:
    """Records delivered events (digest: created_at) in the caller's transaction; a digest
    held already is left as it is (an event sent again after a kill, or met twice in a
    run), with each dialect's insert that ignores a conflict, as `write_meta` upserts."""
    if not events:
        return
    insert = importlib.import_module(f"sqlalchemy.dialects.{connection.dialect.name}").insert
    rows = [{"digest": digest, "created_at": at} for digest, at in events.items()]
    connection.execute(insert(EVENTS).on_conflict_do_nothing(index_elements=["digest"]), rows)


def forget_events(connection: Connection, before: int) -> None:
    """Forgets the events that happened before `before` (Unix seconds), in the caller's
    transaction: a scan of the table, once a run, rather than an index on created_at that
    would double the table's size."""
    connection.execute(sa.delete(EVENTS).where(EVENTS.c.created_at < before))


def forget_fingerprints(connection: Connection, table: sa.Table, keys: list[str]) -> None:
    """Sets the fingerprint of these rows to NULL (a contact's by intercom_id, a company's
    by company_id), in the caller's transaction."""
    column = table.c.intercom_id if table is KNOWN_CONTACTS else table.c.company_id
    for start in range(0, len(keys), 500):
        connection.execute(
            sa.update(table).where(column.in_(keys[start : start + 500])).values(fingerprint=None)
        )
