"""A companies record waiting for its members never writes an older company over a newer one.

In tap-postgres's order (companies, then users) a companies row that lists its users
reaches the target before them. It writes the company at its turn; only attaching the
users not in Intercom yet waits for them, and a later record that says otherwise about
one of those memberships wins.
"""

from __future__ import annotations

import json
import random

import pytest

from tests.conftest import LIST, STR, config_for, record, run_target, schema, state

COMPANY = {"type": ["object", "null"]}
USERS = schema(
    "users", {"id": STR, "email": STR, "company": COMPANY, "companies": {"type": "array"}}, ["id"]
)
COMPANIES = schema(
    "companies", {"id": STR, "name": STR, "plan": STR, "user_ids": LIST, "tags": LIST}, ["id"]
)


def company(company_id: str, name: str, members: list[str], **more: object) -> dict:
    return record("companies", {"id": company_id, "name": name, "user_ids": members, **more})


def user(user_id: str, **more: object) -> dict:
    return record("users", {"id": user_id, "email": f"{user_id}@x.io", **more})


def names(fake) -> dict[str, str]:
    return {c["company_id"]: c.get("name") for c in fake.companies()}


def members(fake, company_id: str) -> set[str]:
    """The external_ids of the contacts attached to the company in the fake."""
    [intercom_id] = [c["id"] for c in fake.companies() if c["company_id"] == company_id]
    by_id = {c["id"]: c["external_id"] for c in fake.contacts()}
    return {by_id[contact] for contact, held in fake.memberships() if held == intercom_id}


def test_the_awaited_user_with_a_newer_nested_company_runs_and_its_company_stays(fake, tmp_path):
    """The record the companies row waits for is about the same company: it must run
    (no deadlock), and the companies row, older, must not write its company over it."""
    messages = [
        COMPANIES,
        company("c1", "Old name", ["u1"], plan="free"),
        state({"at": "companies"}),
        USERS,
        user("u1", company={"id": "c1", "name": "New name", "plan": "pro"}),
        state({"at": "users"}),
    ]
    run = run_target(config_for(fake, max_concurrency=4), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [c1] = fake.companies()
    assert (c1["name"], c1["plan"]["name"]) == ("New name", "pro")
    assert members(fake, "c1") == {"u1"}
    assert run.states[-1] == {"at": "users"}


def test_a_second_companies_row_and_a_nested_company_keep_input_order(fake, tmp_path):
    """Three records about one company, the first waiting for its member: the newest
    name stays, and the memberships both rows list are made."""
    messages = [
        COMPANIES,
        company("c1", "First", ["u1", "u2"]),
        company("c1", "Second", ["u1"]),
        company("c2", "Other", ["u2"]),
        USERS,
        user("u1"),
        user("u2", company={"id": "c2", "name": "Other, renamed"}),
        user("u3", company={"id": "c1", "name": "Third"}),
        state({"at": "end"}),
    ]
    run = run_target(config_for(fake, max_concurrency=8), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert names(fake) == {"c1": "Third", "c2": "Other, renamed"}
    assert members(fake, "c1") == {"u1", "u2", "u3"}
    assert members(fake, "c2") == {"u2"}
    assert run.states == [{"at": "end"}]


def test_a_later_companies_row_under_mirror_settles_the_members_still_to_come(fake, tmp_path):
    """Under mirror a companies row says who the members are: a membership an older row
    still waits to make is not made once a newer row left it out."""
    messages = [
        COMPANIES,
        company("c1", "Acme", ["u1", "u2"]),
        company("c1", "Acme", ["u2"]),
        USERS,
        user("u1"),
        user("u2"),
        state({"at": "end"}),
    ]
    config = config_for(fake, mirror_tags_and_companies=True)
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert members(fake, "c1") == {"u2"}


def test_a_user_that_removes_the_company_it_was_waited_for_by_is_not_attached(fake, tmp_path):
    messages = [
        COMPANIES,
        company("c1", "Acme", ["u1", "u2"]),
        USERS,
        user("u1", companies=[{"id": "c1", "remove": True}]),
        user("u2"),
        state({"at": "end"}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert members(fake, "c1") == {"u2"}


def test_the_company_is_written_at_its_turn_and_state_waits_for_its_members(fake, tmp_path):
    seen: list[tuple[dict, int]] = []

    def at_each_state(value: dict) -> None:
        seen.append((value, len(fake.memberships())))

    messages = [
        COMPANIES,
        company("c1", "Acme", ["u0", "u1"], tags=["vip"]),
        state({"at": "companies"}),
        USERS,
        user("u0"),
        *[user(f"x{i}") for i in range(30)],
        state({"at": "x"}),
        user("u1"),
        state({"at": "end"}),
    ]
    run = run_target(
        config_for(fake, max_concurrency=2), messages, tmp_path, on_state=at_each_state
    )
    assert run.returncode == 0, run.stderr
    assert [c["name"] for c in fake.companies()] == ["Acme"]
    assert [t["name"] for t in fake.companies()[0]["tags"]["tags"]] == ["vip"]
    assert members(fake, "c1") == {"u0", "u1"}
    # No STATE went out before both memberships were made.
    assert seen[-1][0] == {"at": "end"}
    assert all(made == 2 for _, made in seen)


def test_a_member_that_never_comes_costs_only_its_membership(fake, tmp_path):
    messages = [
        COMPANIES,
        company("c1", "Acme", ["u1", "ghost"]),
        USERS,
        user("u1"),
        user("u2", company={"id": "c1", "name": "Acme Inc"}),
        state({"at": "end"}),
    ]
    config = config_for(fake, on_record_error="skip")
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert names(fake) == {"c1": "Acme Inc"}
    assert members(fake, "c1") == {"u1", "u2"}
    [letter] = [
        json.loads(line)
        for line in (tmp_path / "target-intercom.dead-letter.jsonl").read_text().splitlines()
    ]
    assert letter["record"]["user_ids"] == ["u1", "ghost"]
    assert "lists user_id 'ghost', not in Intercom" in letter["error_message"]
    assert run.states == [{"at": "end"}]


def random_load(rng: random.Random) -> tuple[list[dict], dict[str, str], dict[str, set[str]]]:
    """Companies rows (each listing users who come later), then users rows, some with a
    nested company: the input, and the names and members it must leave, in input order.
    (Users rows nesting one company carry the same values for it: users of one company
    run side by side, so their own order among them is not kept.)"""
    companies = [f"c{i}" for i in range(4)]
    users = [f"u{i}" for i in range(12)]
    names: dict[str, str] = {}
    members: dict[str, set[str]] = {c: set() for c in companies}
    messages: list[dict] = [COMPANIES]
    for n in range(10):
        company_id = rng.choice(companies)
        listed = rng.sample(users, rng.randint(0, 3))
        names[company_id] = f"{company_id} as of companies row {n}"
        members[company_id].update(listed)
        messages.append(company(company_id, names[company_id], listed))
    messages.append(USERS)
    for user_id in rng.sample(users, len(users)):
        if rng.random() < 0.5:
            company_id = rng.choice(companies)
            names[company_id] = f"{company_id} as of the users stream"
            members[company_id].add(user_id)
            messages.append(user(user_id, company={"id": company_id, "name": names[company_id]}))
        else:
            messages.append(user(user_id))
    messages.append(state({"at": "end"}))
    return messages, names, {c: m for c, m in members.items() if c in names}


@pytest.mark.parametrize(
    "seed", [*range(3), *(pytest.param(s, marks=pytest.mark.slow) for s in range(3, 30))]
)
def test_random_loads_in_tap_postgres_order_end_as_their_input_says(fake, tmp_path, seed):
    messages, expected_names, expected_members = random_load(random.Random(seed))
    run = run_target(config_for(fake, max_concurrency=8), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert names(fake) == expected_names
    assert {c: members(fake, c) for c in expected_names} == expected_members
    assert run.states == [{"at": "end"}]
