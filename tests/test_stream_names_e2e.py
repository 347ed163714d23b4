"""A tap's own stream names: `<schema>-<table>` (tap-postgres, tap-mysql, tap-snowflake) loads
as the table's kind with no configuration; any other stream is one error line that says how
to map it or leave it out; and the documented ways to leave a stream out (singer-sdk's
`__else__: __NULL__`, a stream mapped to null or "__NULL__") drop it, never an error."""

from __future__ import annotations

import pytest

from tests.conftest import DATETIME, STR, config_for, record, run_target, schema

# As tap-postgres sends them: alphabetical, companies and events before their users.
TAP_POSTGRES = [
    schema("public-companies", {"company_id": STR, "name": STR}, ["company_id"]),
    record("public-companies", {"company_id": "acme", "name": "Acme"}),
    schema(
        "public-events", {"id": STR, "user_id": STR, "event": STR, "timestamp": DATETIME}, ["id"]
    ),
    record(
        "public-events",
        {"id": "e1", "user_id": "u1", "event": "signed-up", "timestamp": "2024-03-01T09:00:00Z"},
    ),
    schema("public-schema_migrations", {"version": STR}, ["version"]),
    record("public-schema_migrations", {"version": "20240101"}),
    schema("public-users", {"id": STR, "email": STR}, ["id"]),
    record("public-users", {"id": "u1", "email": "u1@example.com"}),
]
LOADED = [m for m in TAP_POSTGRES if m["stream"] != "public-schema_migrations"]


def error_line(stderr: str) -> str:
    [line] = [line for line in stderr.splitlines() if "target-intercom failed" in line]
    return line


def check_loaded(fake) -> None:
    assert [c["external_id"] for c in fake.contacts()] == ["u1"]
    assert [c["company_id"] for c in fake.companies()] == ["acme"]
    assert [(e["user_id"], e["event_name"]) for e in fake.events()] == [("u1", "signed-up")]


def test_schema_table_names_load_as_their_kind_with_no_stream_maps(fake, tmp_path):
    run = run_target(config_for(fake), LOADED, tmp_path)
    assert run.returncode == 0, run.stderr
    check_loaded(fake)
    assert "Stream public-users:" in run.stderr  # the summary keeps the tap's names


def test_upper_case_schema_table_names_load_too(fake, tmp_path):
    messages = [
        schema("ANALYTICS-USERS", {"id": STR, "email": STR}, ["id"]),
        record("ANALYTICS-USERS", {"id": "u1", "email": "u1@example.com"}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert [c["email"] for c in fake.contacts()] == ["u1@example.com"]


@pytest.mark.parametrize(
    ("stream", "suggested"),
    [
        ("public-customers", "users"),
        ("analytics-stg_users", "users"),
        ("public-organizations", "companies"),
        ("public-accounts", "companies"),
        ("public-page_views", "events"),
    ],
)
def test_an_unknown_stream_suggests_the_kind_its_name_resembles(fake, tmp_path, stream, suggested):
    messages = [schema(stream, {"id": STR}, ["id"]), record(stream, {"id": "x1"})]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 1
    line = error_line(run.stderr)
    assert f'{{"stream_maps": {{"{stream}": {{"__alias__": "{suggested}"}}}}}}' in line
    assert f'{{"stream_maps": {{"{stream}": null}}}}' in line
    assert "meltano select" in line
    assert fake.contacts() == [] and fake.companies() == []


def test_an_unknown_stream_that_resembles_no_kind_is_never_suggested_as_users(fake, tmp_path):
    run = run_target(config_for(fake), TAP_POSTGRES, tmp_path)
    assert run.returncode == 1
    line = error_line(run.stderr)
    assert "stream 'public-schema_migrations' is not one target-intercom loads" in line
    assert '"__alias__": "users|companies|events"' in line
    assert '{"stream_maps": {"public-schema_migrations": null}}' in line
    # The streams before it were read and are delivered.
    assert [c["company_id"] for c in fake.companies()] == ["acme"]


KEEP_THREE = {"public-users": {}, "public-companies": {}, "public-events": {}}


@pytest.mark.parametrize(
    "stream_maps",
    [
        {**KEEP_THREE, "__else__": "__NULL__"},
        {**KEEP_THREE, "__else__": None},
        {"public-schema_migrations": None},
        {"public-schema_migrations": "__NULL__"},
    ],
    ids=["else-NULL", "else-null", "stream-null", "stream-NULL"],
)
def test_a_stream_dropped_by_stream_maps_is_left_out(fake, tmp_path, stream_maps):
    run = run_target(config_for(fake, stream_maps=stream_maps), TAP_POSTGRES, tmp_path)
    assert run.returncode == 0, run.stderr
    check_loaded(fake)
    assert "Stream 'public-schema_migrations' is dropped by stream_maps" in run.stderr
    assert "Records: 3 received: 3 delivered" in run.stderr


def test_else_null_that_catches_a_loadable_stream_warns_how_to_keep_it(fake, tmp_path):
    config = config_for(fake, stream_maps={"public-users": {}, "__else__": "__NULL__"})
    run = run_target(config, TAP_POSTGRES, tmp_path)
    assert run.returncode == 0, run.stderr
    assert [c["external_id"] for c in fake.contacts()] == ["u1"]
    assert fake.companies() == [] and fake.events() == []
    warned = [line for line in run.stderr.splitlines() if "though target-intercom would" in line]
    assert len(warned) == 2, run.stderr
    assert 'list it in stream_maps ({"public-companies": {}})' in warned[0]
