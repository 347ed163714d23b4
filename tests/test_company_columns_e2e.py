"""A user's company given as columns of its row, end to end against the fake Intercom:
Segment's and RudderStack's flattened `traits.company`, and tap-postgres's plain
`users.company_id` with the company's values in the companies stream, before or after."""

from __future__ import annotations

import pytest

from tests.conftest import INT, STR, config_for, record, run_target, schema, state

SEGMENT_USERS = schema(
    "users",
    {
        "id": STR,
        "email": STR,
        "received_at": {"type": ["string", "null"], "format": "date-time"},
        "company_id": STR,
        "company_name": STR,
        "company_plan": STR,
        "company_employees": INT,
    },
    ["id"],
)
PLAIN_USERS = schema("users", {"id": STR, "email": STR, "company_id": INT}, ["id"])
COMPANIES = schema("companies", {"company_id": STR, "name": STR, "plan": STR}, ["company_id"])


def memberships(fake) -> set[tuple[str, str]]:
    """(external_id, company_id) of every contact attached to a company."""
    contacts = {c["id"]: c.get("external_id") for c in fake.contacts()}
    companies = {c["id"]: c["company_id"] for c in fake.companies()}
    return {(contacts[person], companies[company]) for person, company in fake.memberships()}


def test_flattened_company_traits_make_the_user_a_member_of_that_company(fake, tmp_path):
    row = {"email": "u1@x.io", "received_at": "2024-03-01T10:00:00Z"}
    messages = [
        SEGMENT_USERS,
        record(
            "users",
            {
                "id": "u1",
                **row,
                "company_id": "acme",
                "company_name": "Acme",
                "company_plan": "pro",
                "company_employees": 30,
            },
        ),
        record("users", {"id": "u2", **row, "company_id": None, "company_name": None}),
        state({"done": True}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [company] = fake.companies()
    assert (company["company_id"], company["name"], company["size"]) == ("acme", "Acme", 30)
    assert company["plan"]["name"] == "pro"
    assert memberships(fake) == {("u1", "acme")}
    assert all(not contact.get("custom_attributes") for contact in fake.contacts())
    assert run.states == [{"done": True}]


@pytest.mark.parametrize("companies_first", [True, False])
def test_a_plain_company_id_attaches_the_user_whichever_stream_comes_first(
    fake, tmp_path, companies_first
):
    users = [
        PLAIN_USERS,
        record("users", {"id": "u1", "email": "u1@x.io", "company_id": 7}),
        record("users", {"id": "u2", "email": "u2@x.io", "company_id": None}),
    ]
    companies = [COMPANIES, record("companies", {"company_id": "7", "name": "Acme", "plan": "pro"})]
    streams = companies + users if companies_first else users + companies
    run = run_target(config_for(fake), [*streams, state({"done": True})], tmp_path)
    assert run.returncode == 0, run.stderr
    [company] = fake.companies()
    assert (company["company_id"], company["name"], company["plan"]["name"]) == ("7", "Acme", "pro")
    assert memberships(fake) == {("u1", "7")}
    assert run.states == [{"done": True}]


def test_company_columns_false_sends_them_as_contact_attributes(fake, tmp_path):
    messages = [
        SEGMENT_USERS,
        record(
            "users",
            {"id": "u1", "email": "u1@x.io", "company_id": "acme", "company_name": "Acme"},
        ),
    ]
    config = config_for(fake, company_columns=False, unknown_attributes="create")
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert fake.companies() == []
    assert fake.memberships() == set()
    [contact] = fake.contacts()
    assert contact["custom_attributes"] == {"company_id": "acme", "company_name": "Acme"}
