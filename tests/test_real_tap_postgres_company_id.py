"""tap-postgres's plain `users.company_id` (an integer foreign key, nothing else about the
company) under a real `meltano run`: the user is attached to that company, which ends with
the values of its `companies` row (the tap sends companies before users, alphabetically;
the other order is in test_company_columns_e2e)."""

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
    memberships,
    minutes,
    pytestmark,
    run,
    run_env,
)

__all__ = ["installed_plugins", "pytestmark"]

TABLES = """
create table companies (
    company_id integer primary key,
    name text not null,
    plan text,
    updated_at timestamptz not null
);
-- tap_definition() replicates three tables; events stays empty here.
create table events (id bigint primary key, updated_at timestamptz not null);
create table users (
    id text primary key,
    email text not null,
    company_id integer references companies,
    updated_at timestamptz not null
);
"""


@pytest.fixture
def warehouse(postgres) -> Iterator[str]:
    yield from database(
        postgres,
        "company_id",
        TABLES
        + insert(
            "companies",
            "company_id, name, plan, updated_at",
            [(7, "Acme", "pro", T0), (8, "Globex", None, T0)],
        )
        + insert(
            "users",
            "id, email, company_id, updated_at",
            [
                ("u-1", "ada@example.com", 7, minutes(T0, 1)),
                ("u-2", "grace@example.com", None, minutes(T0, 2)),
            ],
        ),
    )


def test_users_company_id_attaches_each_user_to_its_company(
    fake, postgres, warehouse, installed_plugins, tmp_path: Path
):
    project = linked_project(tmp_path / "project", installed_plugins)
    read = run(project, run_env(project, fake, postgres, warehouse), "users.company_id")
    assert read == {"public-companies": 2, "public-events": 0, "public-users": 2}
    companies = {c["company_id"]: c for c in fake.companies()}
    assert set(companies) == {"7", "8"}
    assert (companies["7"]["name"], companies["7"]["plan"]["name"]) == ("Acme", "pro")
    assert memberships(fake) == {("u-1", "7")}
    contacts = {c["external_id"]: c for c in fake.contacts()}
    assert set(contacts) == {"u-1", "u-2"}
    assert all(not c.get("custom_attributes") for c in contacts.values())
