"""The README's worked example, run as written: a tap-postgres-shaped stream to the fake."""

from __future__ import annotations

from tests.conftest import DATETIME, INT, STR, config_for, record, run_target, schema


def test_worked_example_makes_the_calls_the_readme_shows(fake, tmp_path):
    stream = "analytics-intercom_users"
    messages = [
        schema(
            stream,
            {
                "id": STR,
                "email": STR,
                "first_name": STR,
                "last_name": STR,
                "plan": STR,
                "seats": INT,
                "created_at": DATETIME,
                "company": {"type": ["object", "null"], "properties": {"id": STR, "name": STR}},
            },
            ["id"],
        ),
        record(
            stream,
            {
                "id": "u-42",
                "email": "ada@example.com",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "plan": "pro",
                "seats": 3,
                "created_at": "2024-01-02T03:04:05+00:00",
                "company": {"id": "acme", "name": "Acme"},
            },
        ),
    ]
    config = config_for(
        fake, stream_maps={stream: {"__alias__": "users"}}, unknown_attributes="create"
    )
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    (contact,) = fake.contacts()
    assert (contact["external_id"], contact["email"], contact["name"], contact["role"]) == (
        "u-42",
        "ada@example.com",
        "Ada Lovelace",
        "user",
    )
    assert contact["signed_up_at"] == 1704164645
    assert contact["custom_attributes"] == {"plan": "pro", "seats": 3}
    (company,) = fake.companies()
    assert (company["company_id"], company["name"]) == ("acme", "Acme")
    assert fake.memberships() == {(contact["id"], company["id"])}
    created = {a["name"]: a["data_type"] for a in fake.data_attributes("contact") if a["custom"]}
    assert created == {"plan": "string", "seats": "integer"}
    assert fake.call_counts() == {
        "GET /me": 1,
        "GET /contacts": 1,
        "GET /data_attributes": 1,
        "POST /data_attributes": 2,
        "POST /contacts": 1,
        "POST /companies": 1,
        "POST /contacts/{contact_id}/companies": 1,
    }
    fake.reset_calls()
    again = run_target(config, messages, tmp_path)
    assert again.returncode == 0, again.stderr
    assert fake.call_counts() == {"GET /me": 1}
