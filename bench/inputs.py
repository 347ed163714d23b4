"""Generating the Singer input files the target reads.

Each input is written to a file before its run, not piped from this script while the
target reads it, so that the target never waits for the next line to be generated, and
rows that share an input (a row and its no-op floor, a re-sync and its first load) read
the identical bytes. An input also records what it should leave in the fake, because the
generator is the one place that knows.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tables

STATE_EVERY = 1000

# b2b-5k-100ms: the users' nested companies.
B2B_COMPANIES = 10

STRING = {"type": ["string", "null"]}
INTEGER = {"type": ["integer", "null"]}
PLANS = ("free", "pro", "enterprise")

# Which generator writes an input.
Kind = Literal["users", "b2b", "mixed", "out-of-order", "pipeline", "segment", "orders"]
# Whole tables, stream after stream, as tap-postgres sends them (bench/tables.py).
TABLE_KINDS = ("pipeline", "segment")
# (kind, records, states_per_record, schema_every, changed_every): one generated input file.
InputKey = tuple[Kind, int, int, int, int]


def users_schema() -> dict[str, Any]:
    return {
        "type": "SCHEMA",
        "stream": "users",
        "key_properties": ["id"],
        "schema": {
            "type": "object",
            "properties": {
                "id": STRING,
                "email": STRING,
                "name": STRING,
                "plan": STRING,  # custom attribute (string)
                "seats": INTEGER,  # custom attribute (integer)
            },
        },
    }


def user(i: int, changed_every: int = 0) -> dict[str, Any]:
    """The i-th user; with `changed_every`, one in that many has a new name (a re-sync's
    changed rows)."""
    return {
        "id": f"u{i:07d}",
        "email": f"user{i}@bench.example",
        "name": f"User {i} (renamed)" if is_renamed(i, changed_every) else f"User {i}",
        "plan": PLANS[i % len(PLANS)],
        "seats": i % 50 + 1,
    }


# orders-5k: a warehouse `orders` table loaded as Intercom custom object instances (the
# `custom_objects` setting), its contacts' users table first.
ORDERS_PER_CONTACT = 5
ORDER_TYPE = "Order"
ORDER_REFERENCE = "order"
ORDER_ATTRIBUTES = ("total", "status")
ORDER_STATUSES = ("paid", "open", "refunded")


def orders_schema() -> dict[str, Any]:
    return {
        "type": "SCHEMA",
        "stream": "orders",
        "key_properties": ["id"],
        "schema": {
            "type": "object",
            "properties": {
                "id": STRING,
                "user_id": STRING,
                "total": INTEGER,
                "status": STRING,
            },
        },
    }


def order_table(orders: int) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
    """The users, then the orders ordered by id, as a tap reads the table: order k is user
    k % users's, so one contact's orders lie far apart in the input."""
    users = max(1, orders // ORDERS_PER_CONTACT)
    rows: list[tuple[str, dict[str, Any]]] = [("users", user(i)) for i in range(users)]
    rows += [
        (
            "orders",
            {
                "id": f"o{k:07d}",
                "user_id": user(k % users)["id"],
                "total": k % 500 + 1,
                "status": ORDER_STATUSES[k % len(ORDER_STATUSES)],
            },
        )
        for k in range(orders)
    ]
    return users, rows


def is_renamed(i: int, changed_every: int) -> bool:
    """Users 25, 75, 125, ... for one in 50: spread over the input, none among the first."""
    return bool(changed_every) and i % changed_every == changed_every // 2


def b2b_users_schema() -> dict[str, Any]:
    """The users SCHEMA with the nested `company` object of a B2B table."""
    message = users_schema()
    message["schema"]["properties"]["company"] = {
        "type": ["object", "null"],
        "properties": {"id": STRING, "name": STRING, "plan": STRING},
    }
    return message


def b2b_user(i: int) -> dict[str, Any]:
    """A user of company `c{i % 10}`: the companies' users interleave, as rows ordered by
    user do, so users of one company are on the wire side by side."""
    k = i % B2B_COMPANIES
    return {**user(i), "company": {"id": f"c{k}", "name": f"Company {k}", "plan": PLANS[k % 3]}}


def mixed_schemas() -> list[dict[str, Any]]:
    return [
        users_schema(),
        {
            "type": "SCHEMA",
            "stream": "companies",
            "key_properties": ["company_id"],
            "schema": {
                "type": "object",
                "properties": {
                    "company_id": STRING,
                    "name": STRING,
                    "tier": STRING,  # custom attribute
                    "user_ids": {"type": ["array", "null"], "items": {"type": "string"}},
                },
            },
        },
        {
            "type": "SCHEMA",
            "stream": "events",
            "key_properties": [],
            "schema": {
                "type": "object",
                "properties": {
                    "event": STRING,
                    "user_id": STRING,
                    "created_at": {"type": ["string", "null"], "format": "date-time"},
                    "properties": {
                        "type": ["object", "null"],
                        "properties": {"plan": STRING, "page": STRING},
                    },
                },
            },
        },
    ]


def mixed_records() -> Iterator[tuple[str, dict[str, Any]]]:
    """Blocks of 10: 5 new users, 1 company listing 2 of them, 4 events of the others.

    Companies and events name users of their own block, so they wait on those users'
    upserts (ordering keys) the way a real mixed load does.
    """
    block = 0
    while True:
        first = block * 5
        for i in range(first, first + 5):
            yield "users", user(i)
        yield (
            "companies",
            {
                "company_id": f"c{block:06d}",
                "name": f"Company {block}",
                "tier": PLANS[block % len(PLANS)],
                "user_ids": [user(first)["id"], user(first + 1)["id"]],
            },
        )
        for i in range(first + 1, first + 5):
            yield (
                "events",
                {
                    "event": "signed_in",
                    "user_id": user(i)["id"],
                    # Distinct per event: Intercom drops an event repeating contact, name and time.
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1.7e9 + i)),
                    "properties": {"plan": PLANS[i % len(PLANS)], "page": f"/p/{i % 7}"},
                },
            )
        block += 1


def in_stream_order(records: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """`mixed_records`' first `records` records, stream by stream in alphabetical order, as
    tap-postgres emits them: companies, then events, then users. Every company and event
    names users that only come later."""
    held = list(itertools.islice(mixed_records(), records))
    held.sort(key=lambda item: item[0])  # stable: each stream keeps its own order
    return iter(held)


@dataclass(frozen=True)
class Input:
    """A generated message file and what it should leave in the fake."""

    path: Path
    records: int
    expected: dict[str, int]  # stream -> records of it
    final_state: dict[str, Any]
    # (user id, company_id): every user attached to every company it should be, whether a
    # companies record lists it in `user_ids` or its own record carries the company.
    memberships: tuple[tuple[str, str], ...] = ()
    # Companies named only on user records (B2B), which land besides the companies stream's.
    companies_on_users: int = 0
    # > 0: one user in this many has a changed name (`user`), which the fake must then hold.
    changed_every: int = 0
    renamed: int = 0  # users of the input with a changed name
    # What the fake must hold afterwards, by collection ("contacts": 5000), when that is not
    # simply a record per record: distinct users of a table with a row per identify call,
    # events sent again that Intercom keeps once. Empty: counted from `expected`.
    holds: dict[str, int] = field(default_factory=dict)
    changed_rows: int = 0  # a table chain's rows edited or appended since its first run
    # (users stream, id column): the fake must hold the `compared` columns of each user's
    # newest row there (greatest `timestamp`, else the last), as the input file says.
    newest_of: tuple[str, str] = ("", "")
    compared: tuple[str, ...] = ()
    # (user id, company_id) pairs a users row names by its `company_id` column: counted, not
    # checked (the Target `pipeline company_id memberships`).
    links: tuple[tuple[str, str], ...] = ()
    # (user id, order id): every order in its contact's reference attribute (orders-5k).
    order_links: tuple[tuple[str, str], ...] = ()


def churned_users_schema(revision: int) -> dict[str, Any]:
    """The users SCHEMA, changed: `name` gets a new description in every revision.

    Only a description changes, so every record stays valid under every revision and the
    target maps it as before (no property appears that it would create an attribute for),
    while singer-sdk sees a schema different from the last one and retires the stream's
    sink for a new one.
    """
    message = users_schema()
    properties = message["schema"]["properties"]
    properties["name"] = {**STRING, "description": f"full name (schema revision {revision})"}
    return message


def storm_state(record: int, n: int) -> dict[str, Any]:
    """The n-th STATE after a record: each one distinct, as a tap's bookmarks would be."""
    return {"bookmarks": {"users": {"replication_key_value": record, "n": n}}}


def write_input(
    directory: Path,
    kind: Kind,
    records: int,
    states_per_record: int = 0,
    schema_every: int = 0,
    changed_every: int = 0,
) -> Input:
    """SCHEMAs, then RECORDs with a STATE every 1,000 records and one after the last.

    `states_per_record` > 0 writes that many distinct STATEs after every record instead;
    `schema_every` > 0 re-sends the users SCHEMA, changed, before every so many records;
    `changed_every` > 0 renames one user in that many (users only).
    `out-of-order` and the table kinds write each stream's SCHEMA before its first record
    and a STATE at the end of each stream, as tap-postgres does. For a table kind,
    `records` is the users of the tables (bench/tables.py), and `changed_every` says which
    day's tables to write.
    """
    path = directory / (
        f"{kind}-{records}-s{states_per_record}-c{schema_every}-r{changed_every}.jsonl"
    )
    expected: dict[str, int] = {}
    memberships: list[tuple[str, str]] = []
    companies_on_users: set[str] = set()
    source: Iterator[tuple[str, dict[str, Any]]]
    table: tables.Tables | None = None
    order_links: tuple[tuple[str, str], ...] = ()
    if kind == "orders":
        _, rows = order_table(records)
        schemas, source, records = [users_schema(), orders_schema()], iter(rows), len(rows)
        order_links = tuple((r["user_id"], r["id"]) for stream, r in rows if stream == "orders")
    elif kind in TABLE_KINDS:
        table = (tables.pipeline if kind == "pipeline" else tables.segment)(records, changed_every)
        schemas, source, records = table.schemas, iter(table.rows), len(table.rows)
    elif kind == "users":
        schemas = [users_schema()]
        source = (("users", user(i, changed_every)) for i in range(records))
    elif kind == "b2b":
        schemas = [b2b_users_schema()]
        source = (("users", b2b_user(i)) for i in range(records))
    elif kind == "out-of-order":
        schemas = mixed_schemas()
        source = in_stream_order(records)
    else:  # "mixed"
        schemas = mixed_schemas()
        source = mixed_records()
    state: dict[str, Any] = {}
    last_stream = ""
    dumps = json.dumps
    by_stream = kind in ("out-of-order", "orders") or table is not None
    with path.open("w") as out:
        for message in [] if by_stream else schemas:
            out.write(dumps(message) + "\n")
        for count in range(1, records + 1):
            stream, record = next(source)
            expected[stream] = expected.get(stream, 0) + 1
            if by_stream and stream != last_stream:
                if last_stream and (count - 1) % STATE_EVERY:  # unless one was just written
                    state = {"bookmarks": {"bench": {"records": count - 1}}}
                    out.write(dumps({"type": "STATE", "value": state}) + "\n")
                out.write(dumps(next(m for m in schemas if m["stream"] == stream)) + "\n")
            last_stream = stream
            if stream == "companies":
                memberships += ((u, record["company_id"]) for u in record["user_ids"])
            elif record.get("company"):
                memberships.append((record["id"], record["company"]["id"]))
                companies_on_users.add(record["company"]["id"])
            if schema_every and count % schema_every == 0:
                out.write(dumps(churned_users_schema(count)) + "\n")
            out.write(dumps({"type": "RECORD", "stream": stream, "record": record}) + "\n")
            if states_per_record:
                for n in range(states_per_record):
                    state = storm_state(count, n)
                    out.write(dumps({"type": "STATE", "value": state}) + "\n")
            elif count % STATE_EVERY == 0 or count == records:
                state = {"bookmarks": {"bench": {"records": count}}}
                out.write(dumps({"type": "STATE", "value": state}) + "\n")
    renamed = sum(is_renamed(i, changed_every) for i in range(records)) if kind == "users" else 0
    data = Input(
        path,
        records,
        expected,
        state,
        tuple(memberships),
        len(companies_on_users),
        changed_every if renamed else 0,
        renamed,
        order_links=order_links,
    )
    if table is None:
        return data
    return dataclasses.replace(
        data,
        holds=table.holds,
        changed_rows=table.changed_rows,
        newest_of=table.newest_of,
        compared=table.compared,
        links=table.links,
    )
