"""A warehouse `orders` table loaded as Intercom custom object instances (issue 22, item 1).

Each order is an `Order` instance in the fake, found by its external id; each contact's
`order` reference attribute lists exactly its orders. Orders come for contacts that come
before them in the input, after them, and never.
"""

from __future__ import annotations

import requests
from fake_intercom import Faults

from tests.conftest import STR, TOKEN, config_for, record, run_target, schema, state

ORDER_COLUMNS = {"id": STR, "user_id": STR, "email": STR, "total": {}, "status": STR}
USERS = {"external_id": STR, "email": STR, "name": STR}
SETTING = {"orders": {"type": "Order", "reference_attribute": "order"}}


def seed(fake) -> None:
    fake.seed_custom_object_type(
        "Order", attributes=["total", "status"], reference_attribute="order"
    )


def orders_table(rows: list[dict], columns: dict = ORDER_COLUMNS) -> list[dict]:
    return [schema("orders", columns, key=["id"]), *(record("orders", r) for r in rows)]


def users_table(*ids: str) -> list[dict]:
    return [
        schema("users", USERS, key=["external_id"]),
        *(record("users", {"external_id": i, "name": i.upper()}) for i in ids),
    ]


# u1 comes before its orders, u2 after them, u3 never; o5 names its contact by email.
ORDERS = [
    {"id": "o1", "user_id": "u1", "total": 10.5, "status": "paid"},
    {"id": "o2", "user_id": "u1", "total": 20, "status": "paid"},
    {"id": "o3", "user_id": "u2", "total": 30, "status": "open"},
    {"id": "o4", "user_id": "u3", "total": 40, "status": "open"},
    {"id": "o5", "email": "ann@example.com", "total": 50, "status": "paid"},
]


def messages(orders: list[dict] = ORDERS, columns: dict = ORDER_COLUMNS) -> list[dict]:
    ann = record("users", {"external_id": "ann", "email": "ann@example.com"})
    return [*users_table("u1"), ann, *orders_table(orders, columns), *users_table("u2")]


def by_external_id(fake) -> dict[str, dict]:
    return {i["external_id"]: i for i in fake.custom_object_instances("Order")}


def references(fake) -> dict[str, list[str]]:
    """Each contact's `order` list, as the external ids of the orders it holds."""
    names = {i["id"]: i["external_id"] for i in fake.custom_object_instances("Order")}
    return {
        c["external_id"]: sorted(names[i] for i in c["custom_attributes"]["order"])
        for c in fake.contacts()
        if "order" in c["custom_attributes"]
    }


def load(fake, tmp_path, msgs, **settings):
    config = config_for(fake, custom_objects=SETTING, on_record_error="skip", **settings)
    return run_target(config, msgs, tmp_path)


def test_orders_load_once_each_and_every_contact_lists_exactly_its_orders(fake, tmp_path):
    seed(fake)
    run = load(fake, tmp_path, messages())
    assert run.returncode == 0, run.stderr
    held = by_external_id(fake)
    assert sorted(held) == ["o1", "o2", "o3", "o4", "o5"]
    # Values as Intercom takes them: strings only, numbers without a spurious ".0".
    assert held["o1"]["custom_attributes"] == {"total": "10.5", "status": "paid"}
    assert held["o2"]["custom_attributes"]["total"] == "20"
    assert references(fake) == {"u1": ["o1", "o2"], "u2": ["o3"], "ann": ["o5"]}
    # u3 never came: its order is loaded, its link is a record error with its reason.
    assert "'o4'" in run.stderr and "u3" in run.stderr
    assert fake.validation_errors() == []


def test_a_changed_row_updates_its_instance_and_an_unchanged_rerun_costs_nothing(fake, tmp_path):
    seed(fake)
    assert load(fake, tmp_path, messages()).returncode == 0
    ids = {k: v["id"] for k, v in by_external_id(fake).items()}
    fake.reset_calls()
    changed = [dict(o, status="refunded") if o["id"] == "o2" else o for o in ORDERS]
    assert load(fake, tmp_path, messages(changed)).returncode == 0
    counts = fake.call_counts()
    assert counts["POST /custom_object_instances/{custom_object_type_identifier}"] == 1
    assert counts["PUT /contacts/{contact_id}"] == 0
    assert by_external_id(fake)["o2"]["custom_attributes"]["status"] == "refunded"
    assert {k: v["id"] for k, v in by_external_id(fake).items()} == ids
    assert references(fake) == {"u1": ["o1", "o2"], "u2": ["o3"], "ann": ["o5"]}
    fake.reset_calls()
    assert load(fake, tmp_path, messages(changed)).returncode == 0
    # u3's order waits for a contact that never comes: it is looked for once, at its
    # turn (the last try at the end of input knows it did not come), and costs nothing else.
    assert fake.call_counts() == {
        "GET /me": 1,
        "GET /contacts/find_by_external_id/{external_id}": 1,
    }


def test_an_order_moved_to_another_contact_leaves_the_first_ones_list(fake, tmp_path):
    """A later run's row names another contact for o2: it goes in u2's list and out of
    u1's, each list written once; the instance itself is unchanged, so not sent."""
    seed(fake)
    assert load(fake, tmp_path, messages()).returncode == 0
    fake.reset_calls()
    moved = [dict(o, user_id="u2") if o["id"] == "o2" else o for o in ORDERS]
    run = load(fake, tmp_path, messages(moved))
    assert run.returncode == 0, run.stderr
    assert references(fake) == {"u1": ["o1"], "u2": ["o2", "o3"], "ann": ["o5"]}
    counts = fake.call_counts()
    assert counts["PUT /contacts/{contact_id}"] == 2
    assert "POST /custom_object_instances/{custom_object_type_identifier}" not in counts
    fake.reset_calls()
    assert load(fake, tmp_path, messages(moved)).returncode == 0
    assert "PUT /contacts/{contact_id}" not in fake.call_counts()


def test_an_order_that_moves_within_one_run_ends_in_its_last_contacts_list_only(fake, tmp_path):
    """The table's history has o1 under u1, then, further on, under u2: the newest row
    decides, whichever of its rows' links is written first. Read again, the older row
    moves o1 back for a moment, and the newer one, though the store holds it as written,
    undoes that: no call, and o1 stays in u2's list."""
    seed(fake)
    between = [{"id": f"o{n}", "user_id": "u1", "total": n} for n in range(100, 120)]
    history = [
        {"id": "o1", "user_id": "u1", "total": 1},
        *between,
        {"id": "o1", "user_id": "u2", "total": 1},
    ]
    msgs = [*users_table("u1", "u2"), *orders_table(history)]
    run = load(fake, tmp_path, msgs)
    assert run.returncode == 0, run.stderr
    listed = {"u1": sorted(o["id"] for o in between), "u2": ["o1"]}
    assert references(fake) == listed
    fake.reset_calls()
    # One worker: the older row has done its part when the newer is read.
    assert load(fake, tmp_path, msgs, max_concurrency=1).returncode == 0
    assert references(fake) == listed
    assert fake.call_counts() == {"GET /me": 1}


def test_an_older_row_waiting_for_its_contact_never_overwrites_a_newer_one(fake, tmp_path):
    """o1's first row names u9, who comes last; its newer row, with a new status, names
    u1. When u9 comes, the older row's wait is over but moot: o1 keeps the newer values
    and is in u1's list only."""
    seed(fake)
    history = [
        {"id": "o1", "user_id": "u9", "total": 1, "status": "open"},
        {"id": "o1", "user_id": "u1", "total": 1, "status": "paid"},
    ]
    msgs = [*users_table("u1"), *orders_table(history), *users_table("u9")]
    run = load(fake, tmp_path, msgs)
    assert run.returncode == 0, run.stderr
    assert by_external_id(fake)["o1"]["custom_attributes"]["status"] == "paid"
    assert references(fake) == {"u1": ["o1"]}
    assert '"records_skipped": 0,' in run.stderr


def deleted(*ids: str) -> list[dict]:
    """The orders with these marked deleted, as tap-postgres's LOG_BASED replication has
    a deleted row: its key and `_sdc_deleted_at`."""
    return [
        dict(o, _sdc_deleted_at="2026-12-01T10:00:00Z") if o["id"] in ids else o for o in ORDERS
    ]


DELETED_COLUMNS = {**ORDER_COLUMNS, "_sdc_deleted_at": STR}


def with_deletes(orders: list[dict]) -> list[dict]:
    return messages(orders, DELETED_COLUMNS)


def test_a_deleted_row_takes_its_order_out_of_its_contacts_list(fake, tmp_path):
    """By default (deleted_rows: unlink) a deleted order leaves its contact's list and
    stays an instance; read again, it costs no call."""
    seed(fake)
    assert load(fake, tmp_path, messages()).returncode == 0
    fake.reset_calls()
    run = load(fake, tmp_path, with_deletes(deleted("o2", "o5")))
    assert run.returncode == 0, run.stderr
    assert references(fake) == {"u1": ["o1"], "u2": ["o3"], "ann": []}
    assert sorted(by_external_id(fake)) == ["o1", "o2", "o3", "o4", "o5"]
    assert fake.call_counts()["PUT /contacts/{contact_id}"] == 2
    assert '"unlinked": 2' in run.stderr
    fake.reset_calls()
    assert load(fake, tmp_path, with_deletes(deleted("o2", "o5"))).returncode == 0
    assert "PUT /contacts/{contact_id}" not in fake.call_counts()
    assert fake.validation_errors() == []


def test_deleted_rows_delete_takes_the_order_out_of_its_list_then_deletes_it(fake, tmp_path):
    """With deleted_rows: delete the instance goes too (after its list no longer names
    it); a deleted row of an order never loaded is one DELETE, and none read again."""
    seed(fake)
    setting = {"orders": {**SETTING["orders"], "deleted_rows": "delete"}}
    assert load(fake, tmp_path, messages()).returncode == 0
    fake.reset_calls()
    gone = [*deleted("o2"), {"id": "o9", "user_id": "u1", "_sdc_deleted_at": "2026-12-01"}]
    config = config_for(fake, custom_objects=setting, on_record_error="skip")
    run = run_target(config, with_deletes(gone), tmp_path)
    assert run.returncode == 0, run.stderr
    assert sorted(by_external_id(fake)) == ["o1", "o3", "o4", "o5"]
    assert references(fake) == {"u1": ["o1"], "u2": ["o3"], "ann": ["o5"]}
    assert (
        fake.call_counts()["DELETE /custom_object_instances/{custom_object_type_identifier}"] == 2
    )
    assert '"deleted": 1' in run.stderr and '"already_absent": 1' in run.stderr
    fake.reset_calls()
    assert run_target(config, with_deletes(gone), tmp_path).returncode == 0
    assert "DELETE /custom_object_instances/{custom_object_type_identifier}" not in (
        fake.call_counts()
    )
    assert fake.validation_errors() == []


def test_deleted_rows_ignore_leaves_intercom_as_it_is(fake, tmp_path):
    seed(fake)
    assert load(fake, tmp_path, messages()).returncode == 0
    fake.reset_calls()
    setting = {"orders": {**SETTING["orders"], "deleted_rows": "ignore"}}
    config = config_for(fake, custom_objects=setting, on_record_error="skip")
    run = run_target(config, with_deletes(deleted("o2")), tmp_path)
    assert run.returncode == 0, run.stderr
    assert references(fake) == {"u1": ["o1", "o2"], "u2": ["o3"], "ann": ["o5"]}
    assert '"delete_ignored": 1' in run.stderr
    # Besides GET /me, only the look-up of u3, who never comes.
    assert fake.call_counts() == {
        "GET /me": 1,
        "GET /contacts/find_by_external_id/{external_id}": 1,
    }


def test_a_new_order_for_a_known_contact_keeps_the_ones_it_holds(fake, tmp_path):
    seed(fake)
    assert load(fake, tmp_path, messages()).returncode == 0
    more = [{"id": "o6", "user_id": "u1", "total": 60, "status": "open"}]
    # A fresh store: the list held comes from Intercom, not from memory.
    run = load(fake, tmp_path, orders_table(more), sync_store_path=str(tmp_path / "cold.db"))
    assert run.returncode == 0, run.stderr
    assert references(fake)["u1"] == ["o1", "o2", "o6"]


def test_a_replay_under_faults_makes_no_duplicate(fake, tmp_path):
    """Answers lost after the upsert was applied, 500s and dropped connections, in a run
    and in its replay from a lost store: each order is held once, each list exactly."""
    seed(fake)
    for seed_, store in ((7, "first.db"), (8, "replay.db")):
        faults = Faults(rate=0.3, kinds=["500", "drop", "apply_then_drop"], seed=seed_)
        fake.configure(faults=faults)
        run = load(fake, tmp_path, messages(), max_retries=8, sync_store_path=str(tmp_path / store))
        assert run.returncode == 0, run.stderr
        assert '"retries": 0,' not in run.stderr  # the faults were met
        assert sorted(by_external_id(fake)) == ["o1", "o2", "o3", "o4", "o5"]
        assert references(fake) == {"u1": ["o1", "o2"], "u2": ["o3"], "ann": ["o5"]}
    assert fake.validation_errors() == []


def test_an_unknown_type_fails_the_run_with_one_line(fake, tmp_path):
    orders = [{"id": f"o{n}", "user_id": "u1", "total": n} for n in range(20)]
    run = load(fake, tmp_path, [*users_table("u1"), *orders_table(orders)])
    assert run.returncode == 1
    lines = [line for line in run.stderr.splitlines() if "custom object type 'Order'" in line]
    assert len(lines) == 1, run.stderr
    assert (
        not (tmp_path / "dead_letter.jsonl").exists()
        or "Order" not in (tmp_path / "dead_letter.jsonl").read_text()
    )


def test_the_setting_is_checked_up_front(fake, tmp_path):
    for bad, needle in (
        ({"users": {"type": "Order"}}, "stream the target loads itself"),
        ({"orders": {"reference_attribute": "order"}}, "'type' is a required property"),
    ):
        run = run_target(config_for(fake, custom_objects=bad), orders_table([]), tmp_path)
        assert run.returncode == 1
        assert needle in run.stderr, run.stderr


def interleaved(count: int, *users: str) -> list[dict]:
    """Orders by order id, as a tap reads the table: each user's orders far apart."""
    return [{"id": f"o{n}", "user_id": users[n % len(users)], "total": n} for n in range(count)]


def test_a_contacts_orders_far_apart_in_the_table_cost_one_write_of_its_list(fake, tmp_path):
    """Each contact's list is written once for all its orders, wherever they lie in the
    input; a contact this run created holds no instance, so its list is not asked for."""
    seed(fake)
    orders = interleaved(20, "u1", "u2")
    run = load(fake, tmp_path, [*users_table("u1", "u2"), *orders_table(orders)])
    assert run.returncode == 0, run.stderr
    assert references(fake) == {
        "u1": sorted(f"o{n}" for n in range(0, 20, 2)),
        "u2": sorted(f"o{n}" for n in range(1, 20, 2)),
    }
    counts = fake.call_counts()
    assert counts["PUT /contacts/{contact_id}"] == 2
    assert "GET /custom_object_instances/{custom_object_type_identifier}" not in counts


def orders_with_states(orders: list[dict], every: int) -> list[dict]:
    """The orders table with a STATE after every so many rows, as a tap bookmarks it."""
    out = [schema("orders", ORDER_COLUMNS, key=["id"])]
    for n, row in enumerate(orders, 1):
        out.append(record("orders", row))
        if n % every == 0:
            out.append(state({"bookmarks": {"orders": {"replication_key_value": row["id"]}}}))
    return out


def listed_at_each_state(fake, tmp_path) -> list[dict[str, list[str]]]:
    """Loads 12 orders of u1 and u2, interleaved, a STATE after every 6; each contact's
    list as the fake holds it when each STATE goes out."""
    seed(fake)
    listed_at_state: list[dict[str, list[str]]] = []
    run = run_target(
        config_for(fake, custom_objects=SETTING),
        [*users_table("u1", "u2"), *orders_with_states(interleaved(12, "u1", "u2"), 6)],
        tmp_path,
        on_state=lambda _: listed_at_state.append(references(fake)),
    )
    assert run.returncode == 0, run.stderr
    return listed_at_state


def test_links_wait_past_a_tap_state_which_goes_out_once_they_are_written(fake, tmp_path):
    """A tap bookmarks more often than a contact's rows repeat: the links wait past its
    STATEs (one write of each list), and no STATE goes out before the orders before it
    are in their contacts' lists."""
    listed_at_state = listed_at_each_state(fake, tmp_path)
    assert len(listed_at_state) == 2
    assert listed_at_state[0] == listed_at_state[1] == references(fake)
    assert references(fake)["u1"] == sorted(f"o{n}" for n in range(0, 12, 2))
    assert fake.call_counts()["PUT /contacts/{contact_id}"] == 2


def test_links_that_waited_long_go_at_the_next_state_and_it_after_them(fake, tmp_path, monkeypatch):
    """Once the oldest link has waited `_DEFERRED_SECONDS` (0 here), a tap STATE sends the
    waiting links and goes out after them: each STATE finds every order before it listed."""
    monkeypatch.setattr("target_intercom.delivery.pool._DEFERRED_SECONDS", 0.0)
    listed_at_state = listed_at_each_state(fake, tmp_path)
    # Orders after the STATE may be listed by then too (upserted while it waited).
    assert {"o0", "o2", "o4"} <= set(listed_at_state[0]["u1"])
    assert {"o1", "o3", "o5"} <= set(listed_at_state[0]["u2"])
    assert listed_at_state[-1] == references(fake)
    assert references(fake)["u1"] == sorted(f"o{n}" for n in range(0, 12, 2))
    assert fake.call_counts()["PUT /contacts/{contact_id}"] <= 4


def test_once_that_many_links_wait_they_go_at_once_and_lists_stay_exact(
    fake, tmp_path, monkeypatch
):
    """Memory stays bounded: once `_DEFERRED_AT_MOST` links wait (3 here), they are written
    then, not at the end; every list is still exactly its contact's orders."""
    monkeypatch.setattr("target_intercom.delivery.pool._DEFERRED_AT_MOST", 3)
    seed(fake)
    orders = interleaved(30, "u1", "u2", "u3")
    run = load(fake, tmp_path, [*users_table("u1", "u2", "u3"), *orders_table(orders)])
    assert run.returncode == 0, run.stderr
    for k, user in enumerate(("u1", "u2", "u3")):
        assert references(fake)[user] == sorted(f"o{n}" for n in range(k, 30, 3))
    assert fake.call_counts()["PUT /contacts/{contact_id}"] > 3


def test_an_order_for_a_contact_merged_since_goes_to_the_one_intercom_kept(fake, tmp_path):
    seed(fake)
    first = [{"id": "o1", "user_id": "u1", "total": 1}]
    assert load(fake, tmp_path, [*users_table("u1"), *orders_table(first)]).returncode == 0
    ids = {c["external_id"]: c["id"] for c in fake.contacts()}
    kept = fake.seed_contact(external_id="u9")
    fake.merge_contacts(ids["u1"], kept)
    more = [{"id": "o2", "user_id": "u1", "total": 2}]
    run = load(fake, tmp_path, orders_table(more))
    assert run.returncode == 0, run.stderr
    assert references(fake) == {"u9": ["o2"]}


def test_a_dry_run_writes_nothing_and_says_what_it_would_send(fake, tmp_path):
    seed(fake)
    run = load(fake, tmp_path, messages(), dry_run=True)
    assert run.returncode == 0, run.stderr
    assert fake.custom_object_instances("Order") == []
    assert all("order" not in c["custom_attributes"] for c in fake.contacts())
    assert '"POST /custom_object_instances/{type}": 5' in run.stderr


def test_a_contact_holding_more_than_a_page_of_orders_keeps_them_all(fake, tmp_path):
    """The list a contact holds is read page by page (150 a page, the description's
    maximum) before the first write of it: none of the 160 it held is dropped."""
    seed(fake)
    assert load(fake, tmp_path, users_table("u1")).returncode == 0
    (contact,) = fake.contacts()
    api = requests.Session()
    api.headers.update({"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.16"})
    held = [
        api.post(f"{fake.url}/custom_object_instances/Order", json={"external_id": f"x{n}"}).json()[
            "id"
        ]
        for n in range(160)
    ]
    body = {"custom_attributes": {"order": held}}
    assert api.put(f"{fake.url}/contacts/{contact['id']}", json=body).ok
    run = load(fake, tmp_path, orders_table([{"id": "o1", "user_id": "u1", "total": 1}]))
    assert run.returncode == 0, run.stderr
    assert len(references(fake)["u1"]) == 161
    assert fake.call_counts()["GET /custom_object_instances/{custom_object_type_identifier}"] == 2


def test_orders_of_a_contact_made_elsewhere_cost_nothing_when_unchanged(fake, tmp_path):
    """A contact this target never wrote (made by the Messenger, say) is looked up for its
    orders' first load; an unchanged re-run needs no look-up: each instance's store row
    says which contact it is linked to."""
    seed(fake)
    fake.seed_contact(external_id="m1")
    orders = [{"id": f"o{n}", "user_id": "m1", "total": n} for n in range(3)]
    assert load(fake, tmp_path, orders_table(orders)).returncode == 0
    assert references(fake) == {"m1": ["o0", "o1", "o2"]}
    fake.reset_calls()
    assert load(fake, tmp_path, orders_table(orders)).returncode == 0
    assert fake.call_counts() == {"GET /me": 1}
