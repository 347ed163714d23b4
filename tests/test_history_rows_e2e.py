"""Tables with several rows per contact or company (Segment's and RudderStack's `identifies`
and `groups`, one row per call; any append-only history), loaded into the fake Intercom:
the newest row's values win whatever the input order, an unchanged re-sync costs no call,
and a new row one.

The Segment tables are loaded as the README's Segment section says (each stream aliased
with `stream_maps`); a table of your own names its time column in `row_time_columns`.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from tests import store_runs
from tests.conftest import DATETIME, STR, config_for, record, run_target, schema, state
from tests.store_runs import new_store, summary
from tests.warehouse_columns import CALL_COLUMNS

IDENTIFIES = schema(
    "segment-identifies",
    {
        **CALL_COLUMNS,
        "context_library_name": STR,
        "user_id": STR,
        "email": STR,
        "name": STR,
        "plan": STR,
    },
    ["id"],
)
GROUPS = schema(
    "segment-groups",
    {
        "id": STR,
        "received_at": DATETIME,
        "timestamp": DATETIME,
        "uuid_ts": DATETIME,
        "user_id": STR,
        "group_id": STR,
        "name": STR,
        "plan": STR,
    },
    ["id"],
)
SEGMENT_MAPS = {
    "segment-identifies": {"__alias__": "users"},
    "segment-groups": {"__alias__": "companies"},
}
USERS = 4
# Each user's three identify calls, oldest first: the plan and name they set.
CALLS = (("free", "Trial"), ("pro", "Paying"), ("enterprise", "Big"))


def at(minute: int) -> str:
    return f"2024-03-01T10:{minute:02d}:00.250+00:00"


def identify(user: int, call: int, minute: int | None = None, **traits: Any) -> dict:
    """User `user`'s identify call number `call` (of CALLS), made at minute `minute`
    (by default its place: the calls of every user come in time order)."""
    minute = call * 10 + user if minute is None else minute
    plan, name = CALLS[call] if call < len(CALLS) else ("custom", f"Call {call}")
    return record(
        "segment-identifies",
        {
            "id": f"msg-{user}-{call}",
            "received_at": at(minute),
            "sent_at": at(minute),
            "timestamp": at(minute),
            "original_timestamp": at(minute),
            "uuid_ts": at(minute),
            "context_library_name": "analytics.js",
            "user_id": f"u{user}",
            "email": f"u{user}@example.com",
            "name": f"{name} {user}",
            "plan": plan,
            **traits,
        },
    )


def identifies(*extra: dict) -> list[dict]:
    """Every user's three calls, as the warehouse sorts them (by time), then `extra`."""
    calls = [identify(u, c) for c in range(len(CALLS)) for u in range(USERS)]
    return [IDENTIFIES, *calls, *extra, state({"at": "end"})]


# Each run loads the Segment tables as the README says: streams aliased by stream_maps.
load = functools.partial(store_runs.load, unknown_attributes="create", stream_maps=SEGMENT_MAPS)


def held(fake) -> dict[str, tuple[str, str]]:
    """Each contact's (name, plan) as the fake Intercom holds it, by external_id."""
    return {
        c["external_id"]: (c["name"], c["custom_attributes"].get("plan")) for c in fake.contacts()
    }


NEWEST = {f"u{u}": (f"Big {u}", "enterprise") for u in range(USERS)}


@pytest.fixture
def store(tmp_path, request) -> dict[str, str]:
    return new_store("sqlite", request, tmp_path / "store")


# The one case on PostgreSQL: the rows' times go through the store's own columns.
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def test_an_unchanged_history_resync_costs_only_the_access_check(fake, tmp_path, request, kind):
    store = new_store(kind, request, tmp_path / "store")
    first = load(fake, store, identifies(), tmp_path)
    assert held(fake) == NEWEST
    again = load(fake, store, identifies(), tmp_path)
    assert fake.call_counts() == {"GET /me": 1}
    assert summary(first)["records_superseded"] == 0  # in time order, each row is newer
    totals = summary(again)
    assert totals["records_superseded"] == 2 * USERS
    assert totals["records_unchanged"] == USERS
    assert totals["records_delivered"] == 0
    assert again.states == [{"at": "end"}]
    assert f"{2 * USERS} superseded" in again.stderr
    assert held(fake) == NEWEST


def test_one_newer_row_costs_one_call_and_wins(fake, store, tmp_path):
    load(fake, store, identifies(), tmp_path)
    newer = identify(2, 3, minute=45, name="Renamed 2", plan="custom")
    run = load(fake, store, identifies(newer), tmp_path)
    assert fake.call_counts() == {
        "GET /me": 1,
        "GET /data_attributes": 1,  # the new row's plan: the attributes are checked once a run
        "PUT /contacts/{contact_id}": 1,
    }
    assert held(fake) == {**NEWEST, "u2": ("Renamed 2", "custom")}
    assert summary(run)["records_delivered"] == 1
    # And then it settles again.
    load(fake, store, identifies(newer), tmp_path)
    assert fake.call_counts() == {"GET /me": 1}


def test_an_older_row_after_a_newer_one_in_the_same_run_is_superseded(fake, store, tmp_path):
    # As tap-postgres reads a table without ORDER BY: u0's newest call first.
    rows = [identify(0, 2), identify(0, 0), identify(0, 1)]
    run = load(fake, store, [IDENTIFIES, *rows, state({"at": 1})], tmp_path)
    assert held(fake) == {"u0": ("Big 0", "enterprise")}
    assert fake.call_counts()["POST /contacts"] == 1
    assert "PUT /contacts/{contact_id}" not in fake.call_counts()
    assert summary(run)["records_superseded"] == 2
    assert run.states == [{"at": 1}]


def test_an_older_row_in_a_later_run_changes_nothing(fake, store, tmp_path):
    load(fake, store, identifies(), tmp_path)
    # A call that reached the warehouse late: made before u1's newest, loaded after it.
    late = identify(1, 3, minute=15, name="Late 1", plan="late")
    run = load(fake, store, identifies(late), tmp_path)
    assert fake.call_counts() == {"GET /me": 1}
    assert held(fake) == NEWEST
    assert summary(run)["records_superseded"] == 2 * USERS + 1


def test_rows_with_the_same_time_count_in_input_order(fake, store, tmp_path):
    twin = identify(3, 3, minute=23, name="Twin 3", plan="twin")  # u3's newest call's time
    load(fake, store, identifies(twin), tmp_path)
    assert held(fake)["u3"] == ("Twin 3", "twin")


HISTORY = schema(
    "public-users_history",
    {"user_id": STR, "email": STR, "name": STR, "plan": STR, "changed_at": DATETIME},
    [],
)


def change(user: int, day: int, plan: str) -> dict:
    return record(
        "public-users_history",
        {
            "user_id": f"h{user}",
            "email": f"h{user}@example.com",
            "name": f"History {user}",
            "plan": plan,
            "changed_at": f"2024-04-{day:02d}T08:00:00+00:00",
        },
    )


def history(*extra: dict) -> list[dict]:
    """Two users' changes in no order, as a full-table read without ORDER BY returns them."""
    rows = [change(0, 3, "pro"), change(1, 1, "free"), change(0, 1, "free")]
    rows += [change(1, 9, "enterprise"), change(0, 2, "team"), *extra]
    return [HISTORY, *rows, state({"at": "history"})]


def test_row_time_columns_name_the_time_of_a_table_of_your_own(fake, store, tmp_path):
    settings = {
        "stream_maps": {"public-users_history": {"__alias__": "users"}},
        "row_time_columns": {"public-users_history": "changed_at"},
    }
    config = config_for(fake, unknown_attributes="create", **store, **settings)
    first = run_target(config, history(), tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert held(fake) == {"h0": ("History 0", "pro"), "h1": ("History 1", "enterprise")}
    # The time is the rows' bookkeeping: not made an attribute of the contact.
    assert "changed_at" not in {a["name"] for a in fake.data_attributes()}
    fake.reset_calls()
    again = run_target(config, history(), tmp_path)
    assert fake.call_counts() == {"GET /me": 1}
    assert summary(again)["records_superseded"] == 3
    fake.reset_calls()
    run_target(config, history(change(0, 4, "enterprise")), tmp_path)
    assert fake.call_counts() == {
        "GET /me": 1,
        "GET /data_attributes": 1,  # the new row's plan: the attributes are checked once a run
        "PUT /contacts/{contact_id}": 1,
    }
    assert held(fake)["h0"] == ("History 0", "enterprise")


def test_a_bad_row_time_is_the_records_error(fake, store, tmp_path):
    settings = {
        "stream_maps": {"public-users_history": {"__alias__": "users"}},
        "row_time_columns": {"users": "plan"},  # by the name it loads as, too
    }
    run = run_target(config_for(fake, **store, **settings), history(), tmp_path)
    assert run.returncode == 1
    assert "plan (the row's time, as row_time_columns names it) is not a date-time" in run.stderr


def groups(*rows: tuple[int, int, str]) -> list[dict]:
    """`groups` rows of company g1: (user, minute, plan)."""
    return [
        GROUPS,
        *(
            record(
                "segment-groups",
                {
                    "id": f"grp-{user}-{minute}",
                    "received_at": at(minute),
                    "timestamp": at(minute),
                    "uuid_ts": at(minute),
                    "user_id": f"u{user}",
                    "group_id": "g1",
                    "name": "Globex",
                    "plan": plan,
                },
            )
            for user, minute, plan in rows
        ),
    ]


def test_a_groups_history_keeps_the_newest_company_and_every_member(fake, store, tmp_path):
    # Each group call names the user who made it: an older call's user is attached too.
    calls = groups((2, 30, "scale"), (0, 10, "seed"), (1, 20, "growth"))
    messages = [*identifies()[:-1], *calls, state({"at": "groups"})]
    load(fake, store, messages, tmp_path)
    (company,) = fake.companies()
    assert company["plan"]["name"] == "scale"
    ids = {c["external_id"]: c["id"] for c in fake.contacts()}
    members = {contact for contact, _ in fake.memberships()}
    assert members == {ids["u0"], ids["u1"], ids["u2"]}
    load(fake, store, messages, tmp_path)
    assert fake.call_counts() == {"GET /me": 1}
