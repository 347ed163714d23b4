"""What the mapping settles reaches Intercom unchanged: attribute types from the schema
each value came from, and money rounded from the number's decimal text."""

from __future__ import annotations

from tests.conftest import DATETIME, INT, STR, config_for, record, run_target, schema

USERS = schema(
    "users",
    {
        "id": STR,
        "email": STR,
        "company": {
            "type": ["object", "null"],
            "properties": {"company_id": STR, "seats": INT},
        },
        "companies": {
            "type": ["array", "null"],
            "items": {"type": "object", "properties": {"company_id": STR, "founded": DATETIME}},
        },
    },
    ["id"],
)


def test_each_linked_company_creates_its_attributes_with_its_own_schemas_types(fake, tmp_path):
    messages = [
        USERS,
        record(
            "users",
            {
                "id": "u1",
                "company": {"company_id": "c1", "seats": 5},
                "companies": [{"company_id": "c2", "founded": "2020-02-03T00:00:00Z"}],
            },
        ),
    ]
    run = run_target(config_for(fake, unknown_attributes="create"), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    created = {a["name"]: a["data_type"] for a in fake.data_attributes("company") if a["custom"]}
    assert created == {"seats": "integer", "founded": "date"}
    companies = {c["company_id"]: c for c in fake.companies()}
    assert companies["c1"]["custom_attributes"] == {"seats": 5}
    assert companies["c2"]["custom_attributes"] == {"founded": 1580688000}


def test_revenue_is_rounded_half_up_from_its_decimal_text(fake, tmp_path):
    fake.seed_contact(external_id="u1", email="u1@x.io")
    events = schema(
        "events",
        {"event": STR, "user_id": STR, "created_at": INT, "revenue": {"type": "number"}},
    )
    messages = [
        events,
        record("events", {"event": "paid", "user_id": "u1", "created_at": 1, "revenue": 2.675}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [event] = fake.events()
    assert event["metadata"]["price"] == {"amount": 268, "currency": "usd"}
