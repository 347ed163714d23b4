"""A lost sync store is cheap: when the store is empty (deleted, or a new
sync_store_path) and the workspace already holds the contacts, a run re-learns their ids
by listing the workspace once instead of failing a create for each (a 409, then an
update). What Intercom ends up holding is the same: one contact per person."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest

from target_intercom.config_schema import DEFAULT_MAX_CONCURRENCY
from tests.conftest import STR, config_for, record, run_target, schema

USERS = schema("users", {"id": STR, "email": STR, "name": STR})
# Who the rows name: by external_id and email, by external_id alone, by email alone.
SHAPES = ("external_id and email", "external_id only", "email only")


def users(count: int, shape: str, name: str = "User") -> list[dict[str, Any]]:
    rows = []
    for i in range(count):
        row: dict[str, Any] = {"name": f"{name} {i}"}
        if shape != "email only":
            row["id"] = f"u{i}"
        if shape != "external_id only":
            row["email"] = f"u{i}@acme.io"
        rows.append(record("users", row))
    return [USERS, *rows]


def calls(fake, config: dict[str, Any], messages: list[dict], tmp_path) -> Counter[str]:
    """What one run cost, call by call."""
    fake.reset_calls()
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    return fake.call_counts()


def one_contact_per_person(fake, count: int) -> None:
    contacts = fake.contacts()
    assert len(contacts) == count
    for field in ("external_id", "email"):
        held = [c[field] for c in contacts if c[field] is not None]
        assert len(held) == len(set(held)), field


def cold_run_costs_at_most_a_tenth_more(fake, tmp_path, count: int, shape: str, workers: int):
    """Beyond the first load's calls: the count of the workspace, the creates that paid
    for the listing (a 409 each), its pages, and the creates already on their way when it
    began (at most one a worker)."""
    config = config_for(fake, max_concurrency=workers)
    first = calls(fake, config, users(count, shape), tmp_path)
    # A new, empty store on a workspace that holds every contact, with every row changed.
    cold = {**config, "sync_store_path": str(tmp_path / "cold.db")}
    again = calls(fake, cold, users(count, shape, name="Renamed"), tmp_path)
    pages = math.ceil(count / 150)
    assert again.total() <= first.total() + 1 + 2 * pages + workers, (first, again)
    assert again.total() <= 1.1 * first.total(), (first, again)
    one_contact_per_person(fake, count)
    assert {c["name"] for c in fake.contacts()} == {f"Renamed {i}" for i in range(count)}
    # Listed once: the store is warm now.
    assert calls(fake, cold, users(count, shape, name="Renamed"), tmp_path) == {"GET /me": 1}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_lost_store_costs_at_most_a_tenth_more_than_the_first_load(fake, tmp_path, shape):
    cold_run_costs_at_most_a_tenth_more(fake, tmp_path, 300, shape, workers=8)


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
def test_a_lost_store_of_2000_users_costs_at_most_a_tenth_more(fake, tmp_path, shape):
    cold_run_costs_at_most_a_tenth_more(
        fake, tmp_path, 2000, shape, workers=DEFAULT_MAX_CONCURRENCY
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_a_first_load_into_an_empty_workspace_pays_nothing_for_it(fake, tmp_path, shape):
    """One create a contact; a user with an external_id and an email also costs one count
    of the workspace (is there anyone in it who predates the target?), once."""
    first = calls(fake, config_for(fake), users(300, shape), tmp_path)
    counted = {"GET /contacts": 1} if shape == "external_id and email" else {}
    assert first == {"GET /me": 1, **counted, "POST /contacts": 300}


def test_a_store_lost_mid_load_lists_the_workspace_once_and_creates_the_rest(fake, tmp_path):
    """The workspace holds only some of the contacts: those are updated, the others
    created, each with one call after the listing."""
    config = config_for(fake)
    calls(fake, config, users(200, "external_id only"), tmp_path)
    cold = {**config, "sync_store_path": str(tmp_path / "cold.db")}
    again = calls(fake, cold, users(400, "external_id only", name="Renamed"), tmp_path)
    one_contact_per_person(fake, 400)
    assert again["GET /contacts"] == 1 + 2  # the count, then two pages of 150
    # Each contact there is updated once; the creates that met one (a 409) are the two
    # that paid for the listing and those already on their way when it began.
    assert again["PUT /contacts/{contact_id}"] == 200
    assert again["POST /contacts"] - 200 <= 2 + DEFAULT_MAX_CONCURRENCY
