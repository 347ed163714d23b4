"""The warehouse-shaped inputs of the two table chains: whole tables, as taps send them.

`pipeline`: tap-postgres reading three plain tables in full (no replication key), so every
run sends every row again: `public-companies`, `public-events`, `public-users`, in that
(alphabetical) order, the users carrying their company as a `company_id` column.
`segment`: tap-postgres reading Segment's warehouse schema, `segment-identifies` (several
rows per user: one per identify call) then `segment-tracks`.

Each builder gives the rows of one run of its chain: the table as it is at first, or, with
`changed_every`, as it is a day later (pipeline: one user in that many edited and as many
new events in 100 appended; segment: one user in that many identified again and as many
new tracks appended). The rows are built in memory (some 35,000 at the full size) because
what the fake must hold (distinct contacts and events, the newest identify of each user)
is counted from them before they are written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

PLANS = ("free", "pro", "enterprise")
STRING = {"type": ["string", "null"]}
INTEGER = {"type": ["integer", "null"]}
DATE_TIME = {"type": ["string", "null"], "format": "date-time"}

# The pipeline's tables, per user: one company for this many users, and 2.5 events each.
USERS_PER_COMPANY = 100
EVENTS_PER_2_USERS = 5
# The segment chain's tables, per user: identify calls before the first run, tracks.
IDENTIFIES_PER_USER = 3
TRACKS_PER_USER = 3

EVENT_NAMES = ("signed_in", "viewed_page", "exported_report")
TRACK_NAMES = ("Order Completed", "Signed In", "Viewed Page")
DAY = 86_400
EPOCH = 1_700_000_000  # 2023-11-14: every generated time is after it

# The columns of a users row whose newest value the fake must hold for the user: `email`
# and `name` are contact fields, the others custom attributes.
PIPELINE_COMPARED = ("email", "name", "plan")
SEGMENT_COMPARED = ("email", "name", "plan", "logins")


@dataclass
class Tables:
    """One run's rows, in the order the tap emits them, and what they should leave."""

    schemas: list[dict[str, Any]]  # one per stream, in stream order
    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    holds: dict[str, int] = field(default_factory=dict)  # fake collection -> how many
    changed_rows: int = 0  # rows edited or appended since the first run's tables
    # (users stream, its id column): the fake must hold each user's newest row of it.
    newest_of: tuple[str, str] = ("", "")
    compared: tuple[str, ...] = ()
    # (user id, company_id) pairs a users row's `company_id` column names.
    links: tuple[tuple[str, str], ...] = ()


def at(seconds: float) -> str:
    """A time as tap-postgres writes a timestamptz column."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(seconds))


def schema(stream: str, key: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": [key],
        "schema": {"type": "object", "properties": properties},
    }


def spread(count: int, total: int) -> set[int]:
    """`count` indices spread evenly over range(total), none the first: a day's edits."""
    return {int((k + 0.5) * total / count) for k in range(count)} if count else set()


def changed_share(total: int, changed_every: int) -> int:
    """How many of `total` rows one in `changed_every` is: at least one, even in a smoke
    run, when anything changes at all."""
    return max(1, total // changed_every) if changed_every else 0


def pipeline(users: int, changed_every: int = 0) -> Tables:
    """tap-postgres's three plain tables, full table: companies, events, users."""
    companies = max(1, users // USERS_PER_COMPANY)
    events = users * EVENTS_PER_2_USERS // 2
    edited = spread(changed_share(users, changed_every), users)
    appended = changed_share(events, changed_every)
    tables = Tables(
        schemas=[
            schema(
                "public-companies",
                "company_id",
                {
                    "company_id": INTEGER,
                    "name": STRING,
                    "plan": STRING,
                    "size": INTEGER,
                    "created_at": DATE_TIME,
                },
            ),
            schema(
                "public-events",
                "id",
                {
                    "id": INTEGER,
                    "user_id": INTEGER,
                    "event": STRING,
                    "created_at": DATE_TIME,
                    "page": STRING,
                },
            ),
            schema(
                "public-users",
                "id",
                {
                    "id": INTEGER,
                    "email": STRING,
                    "name": STRING,
                    "company_id": INTEGER,
                    "plan": STRING,
                    "seats": INTEGER,
                    "created_at": DATE_TIME,
                    "updated_at": DATE_TIME,
                },
            ),
        ],
        changed_rows=len(edited) + appended,
        newest_of=("public-users", "id"),
        compared=PIPELINE_COMPARED,
    )
    for c in range(1, companies + 1):
        row = {
            "company_id": c,
            "name": f"Company {c}",
            "plan": PLANS[c % len(PLANS)],
            "size": c % 500 + 1,
            "created_at": at(EPOCH + c * 60),
        }
        tables.rows.append(("public-companies", row))
    for e in range(1, events + appended + 1):
        # Event e belongs to user e % users: each user's events are spread over the table,
        # as a day's activity is. Its time is unique: Intercom drops an event repeating
        # contact, name and time, and here every row is an event of its own.
        row = {
            "id": e,
            "user_id": e % users + 1,
            "event": EVENT_NAMES[e % len(EVENT_NAMES)],
            "created_at": at(EPOCH + 30 * DAY + e),
            "page": f"/p/{e % 7}",
        }
        tables.rows.append(("public-events", row))
    links = []
    for i in range(1, users + 1):
        company = i % companies + 1
        renamed = i - 1 in edited
        row = {
            "id": i,
            "email": f"user{i}@bench.example",
            "name": f"User {i} (renamed)" if renamed else f"User {i}",
            "company_id": company,
            "plan": PLANS[i % len(PLANS)],
            "seats": i % 50 + 1,
            "created_at": at(EPOCH + i),
            "updated_at": at(EPOCH + (40 if renamed else 20) * DAY + i),
        }
        tables.rows.append(("public-users", row))
        links.append((str(i), str(company)))
    tables.links = tuple(links)
    tables.holds = {"companies": companies, "events": events + appended, "contacts": users}
    return tables


def segment(users: int, changed_every: int = 0) -> Tables:
    """Segment's `identifies` and `tracks` warehouse tables, full table, as tap-postgres
    reads them: rows in the order they were loaded (by `received_at`), every identify call
    a row of its own."""
    tracks = users * TRACKS_PER_USER
    again = spread(changed_share(users, changed_every), users)
    appended = changed_share(tracks, changed_every)
    bookkeeping = {
        "id": STRING,
        "user_id": STRING,
        "anonymous_id": STRING,
        "timestamp": DATE_TIME,
        "original_timestamp": DATE_TIME,
        "sent_at": DATE_TIME,
        "received_at": DATE_TIME,
        "uuid_ts": DATE_TIME,
        "context_ip": STRING,
        "context_library_name": STRING,
        "context_library_version": STRING,
        "context_user_agent": STRING,
    }
    tables = Tables(
        schemas=[
            schema(
                "segment-identifies",
                "id",
                {**bookkeeping, "email": STRING, "name": STRING, "plan": STRING, "logins": INTEGER},
            ),
            schema(
                "segment-tracks",
                "id",
                {**bookkeeping, "event": STRING, "event_text": STRING, "path": STRING},
            ),
        ],
        changed_rows=len(again) + appended,
        newest_of=("segment-identifies", "user_id"),
        compared=SEGMENT_COMPARED,
    )
    # Identify call n of every user went out on day n; the appended ones on a later day.
    calls = [(n, i) for n in range(IDENTIFIES_PER_USER) for i in range(users)]
    calls += [(IDENTIFIES_PER_USER, i) for i in sorted(again)]
    for n, i in calls:
        sent = EPOCH + n * DAY + i
        row = {
            **message(f"identify-{n}-{i}", i, sent),
            "email": f"user{i}@bench.example",
            "name": f"User {i}",
            # What a user's traits say changes from one call to the next: each call is a
            # write of its own, and the newest call's values are the user's.
            "plan": PLANS[(i + n) % len(PLANS)],
            "logins": n + 1,
        }
        tables.rows.append(("segment-identifies", row))
    for t in range(tracks + appended):
        name = TRACK_NAMES[t % len(TRACK_NAMES)]
        row = {
            **message(f"track-{t}", t % users, EPOCH + 10 * DAY + t),
            "event": name.lower().replace(" ", "_"),
            "event_text": name,
            "path": f"/p/{t % 7}",
        }
        tables.rows.append(("segment-tracks", row))
    tables.holds = {"contacts": users, "events": tracks + appended}
    return tables


def message(message_id: str, user: int, sent: int) -> dict[str, Any]:
    """The columns Segment writes on every call's row: its ids, its four times (the client
    sent it a second before Segment received it; `timestamp` corrects the client's clock),
    the loader's `uuid_ts`, and the flattened context."""
    return {
        "id": message_id,
        "user_id": f"user-{user}",
        "anonymous_id": f"anon-{user}",
        "timestamp": at(sent),
        "original_timestamp": at(sent - 2),
        "sent_at": at(sent - 1),
        "received_at": at(sent + 1),
        "uuid_ts": at(sent + 3600),
        "context_ip": f"10.0.{user % 250}.{user % 7 + 1}",
        "context_library_name": "analytics.js",
        "context_library_version": "4.1.0",
        "context_user_agent": "Mozilla/5.0 (bench)",
    }
