"""An `orders` table loaded as Intercom custom object instances under a real `meltano run`
of tap-postgres (the `custom_objects` setting): the tap names the stream `public-orders`
and sends it before `public-users` (alphabetically), so every order's link waits for its
user; `numeric` and `timestamptz` columns arrive as numbers and date-time strings and go
to Intercom as text. Run again unchanged, the load costs no write; after an order moves to
another user and another changes, only those are written.

The orders table has no replication key in the tap's metadata: the tap reads it whole on
every run (FULL_TABLE), as a daily reverse-ETL load of a table does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_real_tap_postgres import (
    T0,
    database,
    insert,
    installed_plugins,
    linked_project,
    minutes,
    pytestmark,
    run,
    run_env,
)

__all__ = ["installed_plugins", "pytestmark"]

TABLES = """
-- tap_definition() replicates companies, events and users incrementally: the first two
-- stay empty here.
create table companies (company_id text primary key, updated_at timestamptz not null);
create table events (id bigint primary key, updated_at timestamptz not null);
create table users (
    id text primary key,
    email text not null,
    updated_at timestamptz not null
);
create table orders (
    id text primary key,
    user_id text not null,
    total numeric(10, 2) not null,
    status text not null,
    ordered_at timestamptz not null,
    updated_at timestamptz not null
);
"""

USERS = [("u-1", "ada@example.com"), ("u-2", "grace@example.com"), ("u-3", "alan@example.com")]
# (id, user_id, total, status): u-1 holds three orders, u-2 two, u-3 one.
ORDERS = [
    ("o-1", "u-1", "10.50", "paid"),
    ("o-2", "u-1", "20.00", "paid"),
    ("o-3", "u-2", "30.25", "open"),
    ("o-4", "u-3", "40.00", "paid"),
    ("o-5", "u-1", "50.00", "open"),
    ("o-6", "u-2", "60.00", "paid"),
]
SETTING = {"orders": {"type": "Order", "reference_attribute": "order"}}


@pytest.fixture
def warehouse(postgres) -> Iterator[str]:
    users = [(i, email, minutes(T0, n)) for n, (i, email) in enumerate(USERS)]
    orders = [
        (i, user, total, status, minutes(T0, n), minutes(T0, n))
        for n, (i, user, total, status) in enumerate(ORDERS)
    ]
    yield from database(
        postgres,
        "orders",
        TABLES
        + insert("users", "id, email, updated_at", users)
        + insert("orders", "id, user_id, total, status, ordered_at, updated_at", orders),
    )


def lists(fake) -> dict[str, list[str]]:
    """Each contact's `order` reference list, as the external ids of its orders."""
    names = {i["id"]: i["external_id"] for i in fake.custom_object_instances("Order")}
    return {
        c["external_id"]: sorted(names[i] for i in c["custom_attributes"].get("order") or ())
        for c in fake.contacts()
    }


def writes(fake) -> dict[str, int]:
    return {route: n for route, n in fake.call_counts().items() if not route.startswith("GET ")}


def test_an_orders_table_from_tap_postgres_lands_as_order_instances(
    fake, postgres, warehouse, installed_plugins, tmp_path: Path
):
    fake.seed_custom_object_type(
        "Order", ["total", "status", "ordered_at", "updated_at"], reference_attribute="order"
    )
    project = linked_project(tmp_path / "project", installed_plugins, custom_objects=SETTING)
    env = run_env(project, fake, postgres, warehouse)

    read = run(project, env, "orders, run 1")
    assert list(read) == ["public-companies", "public-events", "public-orders", "public-users"]
    assert read["public-orders"] == 6
    held = {i["external_id"]: i for i in fake.custom_object_instances("Order")}
    assert sorted(held) == [o[0] for o in ORDERS]  # each order once
    # numeric(10, 2): the digits the tap sent; a whole amount without its fraction.
    assert held["o-1"]["custom_attributes"]["total"] == "10.50"
    assert held["o-2"]["custom_attributes"]["total"] == "20"
    assert held["o-1"]["custom_attributes"]["status"] == "paid"
    assert held["o-1"]["custom_attributes"]["ordered_at"].startswith("2024-03-01T09:00:00")
    assert lists(fake) == {"u-1": ["o-1", "o-2", "o-5"], "u-2": ["o-3", "o-6"], "u-3": ["o-4"]}
    # One write of each contact's list, though its orders lie apart and came before it.
    assert writes(fake)["PUT /contacts/{contact_id}"] == 3

    fake.reset_calls()
    run(project, env, "orders, run 2 (nothing changed)")
    assert writes(fake) == {}

    postgres.sql(
        f"update orders set user_id = 'u-3', updated_at = '{minutes(T0, 60).isoformat()}' "
        "where id = 'o-2';"
        f"update orders set status = 'refunded', updated_at = '{minutes(T0, 61).isoformat()}' "
        "where id = 'o-6';",
        database=warehouse,
    )
    fake.reset_calls()
    run(project, env, "orders, run 3 (o-2 moved to u-3, o-6 refunded)")
    assert lists(fake) == {"u-1": ["o-1", "o-5"], "u-2": ["o-3", "o-6"], "u-3": ["o-2", "o-4"]}
    held = {i["external_id"]: i for i in fake.custom_object_instances("Order")}
    assert held["o-6"]["custom_attributes"]["status"] == "refunded"
    assert len(held) == 6
    # o-2's and o-6's rows changed (an updated_at each: two upserts); u-1 and u-3's lists.
    assert writes(fake) == {
        "POST /custom_object_instances/{custom_object_type_identifier}": 2,
        "PUT /contacts/{contact_id}": 2,
    }
    assert fake.validation_errors() == []
