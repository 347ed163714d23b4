"""The sync store's tables: their schema, its versions, and the statements that write rows.

Kept apart from the store's reading and batching (syncstore.py) so that a schema change
is one new step in MIGRATIONS and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

SCHEMA_VERSION = 1


class StoredRow(NamedTuple):
    """One contact's or company's row: Intercom's id, the fingerprint of what was last
    written (None when the id was only found), the tags this target applied, and the
    companies (for a company: the members) it attached."""

    intercom_id: str
    fingerprint: int | None
    tags: tuple[str, ...]
    links: tuple[str, ...]


METADATA = sa.MetaData()
META = sa.Table(
    "target_intercom_meta",
    METADATA,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
CONTACTS = sa.Table(
    "target_intercom_contacts",
    METADATA,
    # keys.contact_by_external_id or keys.contact_by_email: how records name the contact.
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("intercom_id", sa.String(64), nullable=False),
    # Of the fields and custom attributes last written; NULL when the id was only found.
    sa.Column("fingerprint", sa.BigInteger, nullable=True),
    sa.Column("tags", sa.Text, nullable=False),  # JSON list: tags this target applied
    sa.Column("companies", sa.Text, nullable=False),  # JSON list: company_ids it attached
)
COMPANIES = sa.Table(
    "target_intercom_companies",
    METADATA,
    sa.Column("company_id", sa.Text, primary_key=True),
    sa.Column("intercom_id", sa.String(64), nullable=False),
    sa.Column("fingerprint", sa.BigInteger, nullable=True),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("members", sa.Text, nullable=False),  # JSON list: contact ids it attached
)


def _create_v1(connection: Connection) -> None:
    METADATA.create_all(connection)


# MIGRATIONS[n] brings a store at version n to version n + 1; a new version appends a step.
MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_create_v1,)


def migrate(engine: Engine, version: int, steps: Sequence[Callable[[Connection], None]]) -> None:
    """Applies steps[version:] in order, each in its own transaction with its new version."""
    for number in range(version, len(steps)):
        with engine.begin() as connection:
            steps[number](connection)
            write_meta(connection, {"schema_version": str(number + 1)})


def write_meta(connection: Connection, values: dict[str, str]) -> None:
    """Writes meta values in the caller's transaction, the same way on every database."""
    for name, value in values.items():
        connection.execute(sa.delete(META).where(META.c.name == name))
        connection.execute(sa.insert(META).values(name=name, value=value))


def replace_rows(
    connection: Connection,
    table: sa.Table,
    key_column: str,
    links_column: str,
    rows: dict[str, StoredRow | None],
) -> None:
    """Deletes then inserts: the same on SQLite and PostgreSQL, no dialect's upsert needed."""
    if not rows:
        return
    keys = list(rows)
    for start in range(0, len(keys), 500):
        connection.execute(
            sa.delete(table).where(table.c[key_column].in_(keys[start : start + 500]))
        )
    fresh = [
        {
            key_column: key,
            "intercom_id": row.intercom_id,
            "fingerprint": row.fingerprint,
            "tags": json.dumps(row.tags),
            links_column: json.dumps(row.links),
        }
        for key, row in rows.items()
        if row is not None
    ]
    if fresh:
        connection.execute(sa.insert(table), fresh)
