"""A real published tap under a real `meltano run`: `meltanolabs-tap-postgres` reads a real
PostgreSQL server (tests/postgres_server.py, from the pgserver wheel) shaped like a
warehouse export, incrementally on `updated_at`, into the fake Intercom, twice.

What the tap does that the hand-written inputs of the other tests do not:
- it names its streams `<schema>-<table>` (`public-users`), which the loader loads as the
  table's kind with no `stream_maps`, as the README's Streams section says;
- it reads every table of the schema unless told otherwise: here `schema_migrations` too,
  left out with `meltano select` or dropped in the loader with `stream_maps`;
- it sends its streams in alphabetical order, one after the other: companies (whose
  `user_ids` name users), then events (of those users), then users last;
- its columns are typed as Postgres types: `timestamptz` as `format: date-time` strings,
  `numeric` as numbers with fractions, `text[]` as arrays, and `updated_at`, the
  replication key, is an ordinary column of every stream;
- it resumes from Meltano's stored state with `updated_at >= bookmark`, so each stream's
  last row of the previous run comes again (at least once, as Singer taps do).

The last test reads whole tables (FULL_TABLE, as a daily reverse-ETL load does) twice with
nothing changed in between: the second run must cost at most 2 % of the first one's calls.

Meltano never reaches the network but for PyPI (or uv's cache): the tap is installed from
PyPI by `meltano install` with its published pip_url, the loader from this checkout, once
per module (about 3 s, even with an empty uv cache); both plugins are fully defined here
(no Hub lookup).
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, TOKEN
from tests.test_meltano import LOADER, MELTANO_YML, meltano, meltano_env, plugin

pytestmark = [
    pytest.mark.slow,
    # About 15 s with warm caches; room for `meltano install` from a cold uv cache.
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        sys.version_info >= (3, 13), reason="pgserver ships PostgreSQL wheels up to Python 3.12"
    ),
]

TAP = "tap-postgres"
TAP_PIP_URL = "meltanolabs-tap-postgres==0.10.0"
STATE_ID = f"dev:{TAP}-to-{LOADER}"
# tap-postgres' stream names of the tables to load (the loader needs no stream_maps for them).
STREAMS = ["public-companies", "public-events", "public-users"]
# A table of the same schema that is not for Intercom.
OTHER = "public-schema_migrations"
REPLICATION_KEY = "updated_at"

# The warehouse's clock: run 1 sees rows updated on T0, run 2 also those updated on T1.
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
T1 = T0 + timedelta(days=1)


def at(moment: datetime) -> str:
    """A timestamptz literal."""
    return f"'{moment.isoformat()}'"


def minutes(moment: datetime, count: int) -> datetime:
    return moment + timedelta(minutes=count)


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


# ----------------------------------------------------------------------- the warehouse

TABLES = """
create table users (
    id text primary key,
    email text not null,
    name text,
    plan text,
    created_at timestamptz,
    updated_at timestamptz not null
);
create table companies (
    company_id text primary key,
    name text not null,
    plan text,
    industry text,
    monthly_spend numeric(12, 2),
    user_ids text[],
    updated_at timestamptz not null
);
create table events (
    id bigint primary key,
    user_id text not null,
    event text not null,
    "timestamp" timestamptz not null,
    page text,
    revenue numeric(10, 2),
    currency text,
    updated_at timestamptz not null
);
create table schema_migrations (
    version text primary key,
    updated_at timestamptz not null
);
"""


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)


# (id, email, name, plan, created_at); updated_at is added per run
USERS = [
    ("u-001", "ada@example.com", "Ada Lovelace", "pro", utc(2023, 1, 5)),
    ("u-002", "grace@example.com", "Grace Hopper", "free", utc(2023, 2, 6)),
    ("u-003", "alan@example.com", "Alan Turing", "pro", utc(2023, 3, 7)),
    ("u-004", "edsger@example.com", "Edsger Dijkstra", "free", None),
    ("u-005", "barbara@example.com", "Barbara Liskov", "team", utc(2023, 5, 9)),
]
# (company_id, name, plan, industry, monthly_spend, user_ids)
COMPANIES = [
    ("acme", "Acme", "pro", "Manufacturing", "1250.50", ["u-001", "u-002"]),
    ("globex", "Globex", "free", "Energy", "0.00", ["u-003"]),
    ("initech", "Initech", "team", None, "99.99", None),
]
# (id, user_id, event, timestamp, page, revenue, currency)
EVENTS = [
    (1, "u-001", "signed-up", utc(2024, 2, 1, 10, 0), "/signup", None, None),
    (2, "u-002", "signed-up", utc(2024, 2, 2, 11, 0), "/signup", None, None),
    (3, "u-001", "purchased", utc(2024, 2, 10, 12, 30), None, "49.99", "usd"),
    (4, "u-003", "signed-up", utc(2024, 2, 11, 8, 15), "/signup", None, None),
    (5, "u-005", "purchased", utc(2024, 2, 20, 16, 45), None, "19.00", "eur"),
    (6, "u-004", "viewed-pricing", utc(2024, 2, 21, 7, 5), "/pricing", None, None),
]


def literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return at(value)
    if isinstance(value, list):
        return "array[" + ", ".join(literal(v) for v in value) + "]::text[]"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def insert(table: str, columns: str, rows: list[tuple]) -> str:
    values = ",\n".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
    return f"insert into {table} ({columns}) values\n{values};\n"


def first_load() -> str:
    """The rows of run 1: row i of each table was last updated i minutes after T0."""
    return (
        TABLES
        + insert(
            "users",
            "id, email, name, plan, created_at, updated_at",
            [(*row, minutes(T0, i)) for i, row in enumerate(USERS, 1)],
        )
        + insert(
            "companies",
            "company_id, name, plan, industry, monthly_spend, user_ids, updated_at",
            [(*row, minutes(T0, i)) for i, row in enumerate(COMPANIES, 1)],
        )
        + insert(
            "events",
            'id, user_id, event, "timestamp", page, revenue, currency, updated_at',
            [(*row, minutes(T0, i)) for i, row in enumerate(EVENTS, 1)],
        )
        + insert("schema_migrations", "version, updated_at", [("20240101000000", T0)])
    )


# What changes between the runs: a user changes plan, a user signs up and joins Acme, whose
# plan and spend change, a new company, and two new events.
CHANGES = f"""
update users set plan = 'enterprise', updated_at = {at(minutes(T1, 1))} where id = 'u-002';
insert into users (id, email, name, plan, created_at, updated_at) values
    ('u-006', 'margaret@example.com', 'Margaret Hamilton', 'pro', {at(T1)}, {at(minutes(T1, 2))});
update companies set plan = 'enterprise', monthly_spend = 4999.00,
    user_ids = user_ids || array['u-006'], updated_at = {at(minutes(T1, 1))}
    where company_id = 'acme';
insert into companies (company_id, name, plan, industry, monthly_spend, user_ids, updated_at)
    values ('hooli', 'Hooli', 'free', 'Software', 10.25, array['u-006'], {at(minutes(T1, 2))});
insert into events (id, user_id, event, "timestamp", page, revenue, currency, updated_at) values
    (7, 'u-006', 'signed-up', {at(T1)}, '/signup', null, null, {at(minutes(T1, 1))}),
    (8, 'u-002', 'upgraded', {at(minutes(T1, 30))}, '/billing', 450.00, 'usd',
        {at(minutes(T1, 2))});
"""


# ----------------------------------------------------------------------------- fixtures


def database(postgres, prefix: str, sql: str) -> Iterator[str]:
    """A fresh database holding what `sql` makes, for a fixture to yield from: its name,
    then dropped."""
    name = f"{prefix}_{os.getpid()}_{time.monotonic_ns()}"
    postgres.sql(f"create database {name}")
    postgres.sql(sql, database=name)
    yield name
    postgres.sql(f"drop database {name} with (force)")


@pytest.fixture
def warehouse(postgres) -> Iterator[str]:
    """A fresh database holding run 1's tables and rows; its name."""
    yield from database(postgres, "warehouse", first_load())


def tap_definition(replication: str = "INCREMENTAL") -> dict[str, Any]:
    """tap-postgres as a custom plugin: its published package, the settings this test
    gives, and incremental replication on updated_at for the three tables (or FULL_TABLE:
    every row on every run, as a daily reverse-ETL load does); every table of the schema
    is selected (Meltano's default) until a test runs `meltano select`."""
    method: dict[str, str] = {"replication-method": replication}
    if replication == "INCREMENTAL":
        method["replication-key"] = REPLICATION_KEY
    return {
        "name": TAP,
        "namespace": "tap_postgres",
        "pip_url": TAP_PIP_URL,
        "executable": TAP,
        "capabilities": ["catalog", "discover", "state", "about", "stream-maps"],
        "settings": [
            {"name": "host", "kind": "string"},
            {"name": "port", "kind": "integer"},
            {"name": "user", "kind": "string"},
            {"name": "password", "kind": "string", "sensitive": True},
            {"name": "database", "kind": "string"},
            {"name": "filter_schemas", "kind": "array"},
        ],
        "config": {"filter_schemas": ["public"]},
        "metadata": {stream: method for stream in STREAMS},
    }


def write_project(dest: Path, replication: str = "INCREMENTAL", **loader_config: Any) -> Path:
    """This repository's project with tap-postgres as its only extractor, and the loader
    from this checkout, with no stream_maps unless given."""
    project = yaml.safe_load(MELTANO_YML.read_text())
    loader = copy.deepcopy(plugin(project, "loaders", LOADER))
    assert loader["pip_url"] == "-e ."
    loader["pip_url"] = f"-e {shlex.quote(str(ROOT))}"
    loader["config"] = {"unknown_attributes": "create", **loader_config}
    project["plugins"] = {"extractors": [tap_definition(replication)], "loaders": [loader]}
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "meltano.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    return dest


@pytest.fixture(scope="module")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`meltano install` of both plugins once; the tests' projects link to their venvs."""
    base = write_project(tmp_path_factory.mktemp("tap-postgres-install") / "project")
    started = time.monotonic()
    done = meltano(base, "install", env=meltano_env(base), timeout=900)
    assert done.returncode == 0, done.stderr[-5000:]
    print(f"\nmeltano install of {TAP} and {LOADER}: {time.monotonic() - started:.1f} s")
    plugins = base / ".meltano"
    assert (plugins / "extractors" / TAP / "venv" / "bin" / TAP).exists(), done.stderr[-5000:]
    assert (plugins / "loaders" / LOADER / "venv" / "bin" / LOADER).exists()
    return plugins


def linked_project(
    dest: Path, installed_plugins: Path, replication: str = "INCREMENTAL", **loader_config: Any
) -> Path:
    """A fresh project (its own .meltano/meltano.db) using the module's plugin venvs."""
    root = write_project(dest, replication, **loader_config)
    for kind, name in (("extractors", TAP), ("loaders", LOADER)):
        (root / ".meltano" / kind).mkdir(parents=True)
        (root / ".meltano" / kind / name).symlink_to(
            installed_plugins / kind / name, target_is_directory=True
        )
    return root


@pytest.fixture
def project(tmp_path: Path, installed_plugins: Path) -> Path:
    return linked_project(tmp_path / "project", installed_plugins)


def run_env(project: Path, fake, postgres, database: str) -> dict[str, str]:
    """Meltano's environment (nothing inherited that configures Meltano, the plugins or
    libpq), with the tap pointed at the warehouse and the loader at the fake."""
    env = meltano_env(project)
    env = {k: v for k, v in env.items() if not k.startswith(("TAP_POSTGRES_", "PG"))}
    env.update(
        {
            "TAP_POSTGRES_HOST": postgres.host,
            "TAP_POSTGRES_PORT": str(postgres.port),
            "TAP_POSTGRES_USER": postgres.user,
            # The server trusts loopback connections, but the tap insists on a password.
            "TAP_POSTGRES_PASSWORD": "unused",
            "TAP_POSTGRES_DATABASE": database,
            "TARGET_INTERCOM_ACCESS_TOKEN": TOKEN,
            "TARGET_INTERCOM_API_BASE_URL": fake.url,
        }
    )
    return env


# ------------------------------------------------------------------------- what to check


def state_get(project: Path, env: dict[str, str]) -> dict[str, Any]:
    done = meltano(project, "state", "get", STATE_ID, env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def bookmarks(project: Path, env: dict[str, str]) -> dict[str, tuple[str, datetime]]:
    """{tap stream: (replication key, bookmark)} from Meltano's stored state."""
    stored = state_get(project, env)["singer_state"]["bookmarks"]
    return {
        stream: (mark["replication_key"], datetime.fromisoformat(mark["replication_key_value"]))
        for stream, mark in stored.items()
    }


def contacts_by_external_id(fake) -> dict[str, dict[str, Any]]:
    contacts = fake.contacts()
    counts = Counter(c["external_id"] for c in contacts)
    assert not [i for i, n in counts.items() if n != 1], f"contacts not exactly once: {counts}"
    return {c["external_id"]: c for c in contacts}


def companies_by_company_id(fake) -> dict[str, dict[str, Any]]:
    companies = fake.companies()
    counts = Counter(c["company_id"] for c in companies)
    assert not [i for i, n in counts.items() if n != 1], f"companies not exactly once: {counts}"
    return {c["company_id"]: c for c in companies}


def memberships(fake) -> set[tuple[str, str]]:
    """(external_id, company_id) of every contact attached to a company."""
    contacts = {c["id"]: c["external_id"] for c in fake.contacts()}
    companies = {c["id"]: c["company_id"] for c in fake.companies()}
    return {(contacts[person], companies[company]) for person, company in fake.memberships()}


def events_held(fake) -> Counter:
    return Counter((e["user_id"], e["event_name"], e["created_at"]) for e in fake.events())


def check_users(fake, users: list[tuple]) -> None:
    held = contacts_by_external_id(fake)
    assert sorted(held) == sorted(u[0] for u in users)
    for external_id, email, name, plan, created_at in users:
        contact = held[external_id]
        assert (contact["email"], contact["name"], contact["role"]) == (email, name, "user")
        assert contact["signed_up_at"] == (unix(created_at) if created_at else None)
        assert contact["custom_attributes"].get("plan") == plan, external_id
        assert contact["archived"] is False


def check_companies(fake, companies: list[tuple]) -> None:
    held = companies_by_company_id(fake)
    assert sorted(held) == sorted(c[0] for c in companies)
    for company_id, name, plan, industry, spend, _members in companies:
        company = held[company_id]
        assert company["name"] == name
        assert company["plan"].get("name") == plan, company_id
        assert company["industry"] == industry, company_id
        # numeric(12, 2), rounded half up to Intercom's integer
        assert company["monthly_spend"] == int(float(spend) + 0.5), company_id
    expected = {(u, c[0]) for c in companies for u in c[5] or []}
    assert memberships(fake) == expected


def check_events(fake, events: list[tuple]) -> None:
    expected = Counter((e[1], e[2], unix(e[3])) for e in events)
    assert events_held(fake) == expected
    by_key = {(e["user_id"], e["event_name"], e["created_at"]): e for e in fake.events()}
    for _id, user_id, name, moment, page, revenue, currency in events:
        metadata = by_key[(user_id, name, unix(moment))]["metadata"]
        if page is not None:
            assert metadata.get("page") == page
        if revenue is not None:
            cents = round(float(revenue) * 100)
            assert metadata.get("price") == {"amount": cents, "currency": currency}


def writes(before: Counter, after: Counter) -> dict[str, int]:
    return {
        route: n - before[route]
        for route, n in after.items()
        if not route.startswith("GET ") and n != before[route]
    }


def successful_writes(calls: list) -> Counter:
    """Writes Intercom accepted (2xx), by route: a 409 that names the contact to update,
    or a 404, changed nothing."""
    return Counter(
        c.route
        for c in calls
        if not c.route.startswith("GET ")
        and c.route != "POST /contacts/search"
        and 200 <= c.status < 300
    )


def tap_record_counts(output: str) -> dict[str, int]:
    """{tap stream: records the tap read}, in the order the tap synced its streams, from
    the record_count metrics the tap logs (Meltano relays them as `tap-postgres METRIC:`)."""
    counts: dict[str, int] = {}
    for line in output.splitlines():
        _, found, metric = line.partition(f"{TAP} METRIC: ")
        point = json.loads(metric) if found else {}
        if point.get("metric") == "record_count":
            stream = point["tags"]["stream"]
            counts[stream] = counts.get(stream, 0) + point["value"]
    return counts


def run(project: Path, env: dict[str, str], label: str) -> dict[str, int]:
    """`meltano run tap-postgres target-intercom`; what the tap read, by stream."""
    started = time.monotonic()
    done = meltano(project, "run", TAP, LOADER, env=env, timeout=300)
    print(f"\n{label}: meltano run took {time.monotonic() - started:.1f} s")
    output = done.stdout + done.stderr
    assert TOKEN not in output
    errors = [line for line in output.splitlines() if "error" in line.lower()]
    assert done.returncode == 0, f"{label} failed:\n" + "\n".join(errors[-40:])
    return tap_record_counts(output)


# -------------------------------------------------------------------------------- test


def test_real_tap_postgres_loads_incrementally_twice(fake, postgres, warehouse, project):
    env = run_env(project, fake, postgres, warehouse)
    # The tables to load, chosen in the tap (README: tap-postgres in ten minutes); the
    # loader has no stream_maps.
    for stream in STREAMS:
        done = meltano(project, "select", TAP, stream, "*", env=env, timeout=60)
        assert done.returncode == 0, done.stderr[-3000:]

    # Run 1: everything, each user, company, membership and event exactly once, though
    # the users come last.
    read = run(project, env, "run 1")
    assert read == {"public-companies": 3, "public-events": 6, "public-users": 5}
    assert list(read) == ["public-companies", "public-events", "public-users"]
    check_users(fake, USERS)
    check_companies(fake, COMPANIES)
    check_events(fake, EVENTS)
    assert bookmarks(project, env) == {
        "public-companies": (REPLICATION_KEY, minutes(T0, len(COMPANIES))),
        "public-events": (REPLICATION_KEY, minutes(T0, len(EVENTS))),
        "public-users": (REPLICATION_KEY, minutes(T0, len(USERS))),
    }
    # Each of them written once: a call Intercom refused (a 404 for a user not loaded yet)
    # changed nothing, but nothing is written twice.
    calls_before = fake.calls()
    accepted = successful_writes(calls_before)
    del accepted["POST /data_attributes"]  # plan's, at least: not this test's subject
    assert accepted == {
        "POST /contacts": 5,
        "POST /companies": 3,
        "POST /contacts/{contact_id}/companies": 3,
        "POST /events": 6,
    }, fake.call_counts()
    counts_before = fake.call_counts()

    # Run 2: the rows updated since run 1, and per stream the last row of run 1 again (the
    # tap reads `updated_at >= bookmark`): users u-002 (new plan), u-006 (new) and u-005
    # (again); companies acme (new plan, spend and member u-006), hooli (new) and initech
    # (again); events 7 and 8 (new) and 6 (again).
    postgres.sql(CHANGES, database=warehouse)
    read = run(project, env, "run 2")
    assert read == {"public-companies": 3, "public-events": 3, "public-users": 3}

    users = [(u[0], u[1], u[2], "enterprise" if u[0] == "u-002" else u[3], u[4]) for u in USERS]
    users.append(("u-006", "margaret@example.com", "Margaret Hamilton", "pro", T1))
    companies = [
        ("acme", "Acme", "enterprise", "Manufacturing", "4999.00", ["u-001", "u-002", "u-006"]),
        *COMPANIES[1:],
        ("hooli", "Hooli", "free", "Software", "10.25", ["u-006"]),
    ]
    events = [
        *EVENTS,
        (7, "u-006", "signed-up", T1, "/signup", None, None),
        (8, "u-002", "upgraded", minutes(T1, 30), "/billing", "450.00", "usd"),
    ]
    check_users(fake, users)
    check_companies(fake, companies)
    check_events(fake, events)  # event 6, sent again, is still there once

    # Run 2 wrote only what changed: nothing for u-001, u-003, u-004, globex, events 1-5
    # (not read), nor for u-005 and initech (read again, unchanged: the sync store, in the
    # Meltano project, remembers what run 1 wrote).
    assert (project / "target-intercom-sync.db").is_file()
    sent = writes(counts_before, fake.call_counts())
    accepted = successful_writes(fake.calls()[len(calls_before) :])
    report = f"accepted writes {dict(accepted)}, all writes {sent}"
    assert accepted["POST /contacts"] == 1, report  # u-006 created
    assert accepted["PUT /contacts/{contact_id}"] == 1, report  # u-002 updated
    assert accepted["POST /companies"] == 2, report  # acme changed, hooli new
    # Events 7 and 8 are new; 6, read again, is remembered by the sync store: no call.
    assert accepted["POST /events"] == 2, report
    # u-006 joins acme and hooli; acme's other members were attached by run 1.
    assert accepted["POST /contacts/{contact_id}/companies"] == 2, report
    # The attributes created in run 1 are known: none is created again.
    assert "POST /data_attributes" not in sent, report
    allowed = {
        "POST /contacts",
        "PUT /contacts/{contact_id}",
        "POST /contacts/search",
        "POST /companies",
        "POST /contacts/{contact_id}/companies",
        "POST /events",
    }
    assert set(sent) <= allowed, report

    # Meltano's stored state moved to the newest row of each stream (and schema_migrations,
    # never selected, was never read).
    assert bookmarks(project, env) == {
        "public-companies": (REPLICATION_KEY, minutes(T1, 2)),
        "public-events": (REPLICATION_KEY, minutes(T1, 2)),
        "public-users": (REPLICATION_KEY, minutes(T1, 2)),
    }


def test_an_extra_table_dropped_by_else_null_leaves_the_run_green(
    fake, postgres, warehouse, installed_plugins, tmp_path
):
    """No `meltano select`: the tap reads every table, schema_migrations too, and the
    loader's `__else__: __NULL__` drops it, the three tables listed to keep them. (A
    stream mapped to null or "__NULL__" is dropped the same way: test_stream_names_e2e.)"""
    stream_maps = {**{stream: {} for stream in STREAMS}, "__else__": "__NULL__"}
    project = linked_project(tmp_path / "project", installed_plugins, stream_maps=stream_maps)
    env = run_env(project, fake, postgres, warehouse)

    read = run(project, env, "every table")

    assert read == {"public-companies": 3, "public-events": 6, OTHER: 1, "public-users": 5}
    check_users(fake, USERS)
    check_companies(fake, COMPANIES)
    check_events(fake, EVENTS)


# A warehouse the size of a small product's: every user in a company, 25 events each.
BIG_USERS, BIG_COMPANIES, BIG_EVENTS = 200, 10, 5_000
# What each run of the whole tables reads: every row.
BIG_READ = {
    "public-companies": BIG_COMPANIES,
    "public-events": BIG_EVENTS,
    "public-users": BIG_USERS,
}
BIG_LOAD = (
    TABLES
    + f"""
insert into users (id, email, name, plan, created_at, updated_at)
    select 'u-' || lpad(g::text, 4, '0'), 'user' || g || '@example.com', 'User ' || g,
        case when g % 3 = 0 then 'pro' else 'free' end,
        {at(T0)}::timestamptz - g * interval '1 hour', {at(T0)}
    from generate_series(1, {BIG_USERS}) g;
insert into companies (company_id, name, plan, industry, monthly_spend, user_ids, updated_at)
    select 'co-' || g, 'Company ' || g, 'team', 'Software', 100.50,
        array(select 'u-' || lpad(u::text, 4, '0')
              from generate_series(g, {BIG_USERS}, {BIG_COMPANIES}) u),
        {at(T0)}
    from generate_series(1, {BIG_COMPANIES}) g;
insert into events (id, user_id, event, "timestamp", page, revenue, currency, updated_at)
    select g, 'u-' || lpad((g % {BIG_USERS} + 1)::text, 4, '0'),
        (array['viewed', 'clicked', 'purchased', 'signed-up'])[g % 4 + 1],
        {at(T0)}::timestamptz - g * interval '1 minute', '/p' || (g % 50), null, null, {at(T0)}
    from generate_series(1, {BIG_EVENTS}) g;
"""
)


@pytest.fixture
def big_warehouse(postgres) -> Iterator[str]:
    yield from database(postgres, "big_warehouse", BIG_LOAD)


def test_an_unchanged_full_table_load_run_again_costs_almost_no_call(
    fake, postgres, big_warehouse, installed_plugins, tmp_path
):
    """The daily reverse-ETL load: the same `meltano run` of whole tables, twice, with
    nothing changed in between. The second run costs next to nothing: users and companies
    unchanged in the sync store, and every event remembered as delivered."""
    project = linked_project(tmp_path / "project", installed_plugins, "FULL_TABLE")
    env = run_env(project, fake, postgres, big_warehouse)
    for stream in STREAMS:
        done = meltano(project, "select", TAP, stream, "*", env=env, timeout=60)
        assert done.returncode == 0, done.stderr[-3000:]

    assert run(project, env, "full table, run 1") == BIG_READ
    first = fake.call_counts()
    assert len(contacts_by_external_id(fake)) == BIG_USERS
    assert len(companies_by_company_id(fake)) == BIG_COMPANIES
    assert len(fake.memberships()) == BIG_USERS
    assert len(fake.events()) == BIG_EVENTS

    fake.reset_calls()
    assert run(project, env, "full table, run 2 (nothing changed)") == BIG_READ
    second = fake.call_counts()
    print(
        f"\nfull table, {BIG_USERS} users, {BIG_COMPANIES} companies, {BIG_EVENTS} events: "
        f"run 1 made {sum(first.values())} calls {dict(first)}; run 2, unchanged, made "
        f"{sum(second.values())} calls {dict(second)}"
    )
    assert sum(second.values()) <= 0.02 * sum(first.values()), dict(second)
    assert "POST /events" not in second
    assert len(fake.events()) == BIG_EVENTS
    assert len(contacts_by_external_id(fake)) == BIG_USERS
