"""Users who share a company: the company is upserted once per run (again only when a
record changes it), and its users' writes and attaches run side by side."""

from __future__ import annotations

from tests.conftest import STR, config_for, record, run_target, schema

USERS = schema("users", {"id": STR, "email": STR, "company": {"type": ["object", "null"]}}, ["id"])


def b2b_users(count: int, companies: int) -> list[dict]:
    return [
        record(
            "users",
            {
                "id": f"u{i}",
                "email": f"u{i}@x.io",
                "company": {"id": f"c{i % companies}", "name": f"Company {i % companies}"},
            },
        )
        for i in range(count)
    ]


def test_users_of_one_company_cost_their_create_and_attach_and_run_side_by_side(fake, tmp_path):
    fake.configure(latency=0.05)
    run = run_target(config_for(fake, max_concurrency=16), [USERS, *b2b_users(60, 3)], tmp_path)
    assert run.returncode == 0, run.stderr
    counts = fake.call_counts()
    assert counts["POST /companies"] == 3
    assert counts["POST /contacts"] == 60
    assert counts["POST /contacts/{contact_id}/companies"] == 60
    assert len(fake.memberships()) == 60
    attaches = [
        (c.finished_at - c.elapsed, c.finished_at)
        for c in fake.calls()
        if c.route == "POST /contacts/{contact_id}/companies"
    ]
    most_at_once = max(sum(1 for s, e in attaches if s <= start < e) for start, _ in attaches)
    assert most_at_once >= 4, most_at_once  # one company's users were serialized before


def test_a_company_changed_by_a_later_user_is_upserted_again(fake, tmp_path):
    rows = b2b_users(4, 1)
    rows.append(
        record("users", {"id": "u9", "email": "u9@x.io", "company": {"id": "c0", "name": "New"}})
    )
    run = run_target(config_for(fake, max_concurrency=1), [USERS, *rows], tmp_path)
    assert run.returncode == 0, run.stderr
    assert fake.call_counts()["POST /companies"] == 2
    assert [c["name"] for c in fake.companies()] == ["New"]
