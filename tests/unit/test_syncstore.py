"""The sync store's schema versions: a store migrates forward from whatever version it is
at, one step at a time, and says which version it reached."""

from __future__ import annotations

import sqlalchemy as sa

from target_intercom.syncstore import store_at
from target_intercom.syncstore_tables import MIGRATIONS, SCHEMA_VERSION, StoredRow, migrate


def _version(engine: sa.Engine) -> str:
    with engine.connect() as connection:
        return connection.execute(
            sa.text("select value from target_intercom_meta where name = 'schema_version'")
        ).scalar_one()


def test_a_new_store_is_made_at_the_current_version(tmp_path):
    store = store_at(str(tmp_path / "s.db"), None, read_only=False)
    store.open("ws")
    row = StoredRow("abc", 42, ("vip",), ("c1",), "u1", "u1@x.io")
    store.put_key("contact:external_id:u1", "abc")
    store.put_contact("abc", row)
    store.close()
    again = store_at(str(tmp_path / "s.db"), None, read_only=False)
    again.open("ws")
    assert again.contact("contact:external_id:u1") == row
    assert again.contact("contact:external_id:u2") is None
    assert again.holders("u1@x.io") == ("abc",)
    again.close()
    assert len(MIGRATIONS) == SCHEMA_VERSION
    assert _version(sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")) == str(SCHEMA_VERSION)


def test_version_1_keys_become_one_row_per_contact(tmp_path):
    """Rows filed under each key of one contact merge: a fingerprint they disagree on is
    dropped (a call, never a skip), the tags and companies the target applied are kept, and
    a contact known only by email has the workspace listed again."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    migrate(engine, 0, MIGRATIONS[:1])
    with engine.begin() as connection:
        for key, intercom_id, print_, tags in [
            ("contact:external_id:x1", "c1", 1, '["a"]'),
            ("contact:email:x1@x.io", "c1", 2, '["b"]'),
            ("contact:external_id:x2", "c2", 3, "[]"),
            ("contact:email:team@x.io", "c3", 4, "[]"),
        ]:
            connection.execute(
                sa.text("insert into target_intercom_contacts values (:k, :i, :f, :t, '[]')"),
                {"k": key, "i": intercom_id, "f": print_, "t": tags},
            )
        connection.execute(
            sa.text("insert into target_intercom_meta values ('contacts_listed', '1')")
        )
    migrate(engine, 1, MIGRATIONS)
    store = store_at(str(tmp_path / "s.db"), None, read_only=False)
    store.open(None)
    assert store.contact("contact:email:x1@x.io") == StoredRow(
        "c1", None, ("a", "b"), (), "x1", "x1@x.io"
    )
    assert store.contact("contact:external_id:x2") == StoredRow("c2", 3, (), (), "x2", None)
    assert store.contact("contact:email:team@x.io") == StoredRow("c3", 4, (), (), None, "team@x.io")
    assert store.meta("contacts_listed") is None
    store.close()


def test_a_store_at_an_older_version_runs_only_the_steps_after_it(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    ran: list[int] = []

    def step(number: int):
        def apply(connection: sa.Connection) -> None:
            ran.append(number)
            if number == 1:
                MIGRATIONS[0](connection)
            else:
                connection.execute(
                    sa.text(f"alter table target_intercom_contacts add c{number} int")
                )

        return apply

    steps = [step(1), step(2), step(3)]
    migrate(engine, 0, steps[:1])
    assert ran == [1] and _version(engine) == "1"
    migrate(engine, 1, steps)
    assert ran == [1, 2, 3] and _version(engine) == "3"
    with engine.connect() as connection:
        columns = {
            c["name"] for c in sa.inspect(connection).get_columns("target_intercom_contacts")
        }
    assert {"c2", "c3"} <= columns


def test_version_2_after_a_kill_that_left_the_old_table_dropped_goes_on(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    migrate(engine, 0, MIGRATIONS[:1])
    with engine.begin() as connection:
        connection.execute(sa.text("drop table target_intercom_contacts"))
    migrate(engine, 1, MIGRATIONS)
    assert _version(engine) == str(SCHEMA_VERSION)


def test_version_2_rows_gain_times_and_the_events_table(tmp_path):
    """A store written by version 2 keeps every row; each starts with no row time and no
    updated_at (the next write fills them in), and delivered events get their table."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    with engine.begin() as connection:
        for ddl in (
            "create table target_intercom_meta (name varchar(64) primary key, value text)",
            "create table target_intercom_contact_keys (key text primary key, "
            "intercom_id varchar(64) not null)",
            "create table target_intercom_known_contacts (intercom_id varchar(64) primary key, "
            "external_id text, email text, fingerprint bigint, tags text not null, "
            "companies text not null)",
            "create table target_intercom_companies (company_id text primary key, "
            "intercom_id varchar(64) not null, fingerprint bigint, tags text not null, "
            "members text not null)",
            "insert into target_intercom_meta values ('schema_version', '2')",
            "insert into target_intercom_contact_keys values ('contact:external_id:u1', 'c1')",
            "insert into target_intercom_known_contacts values "
            "('c1', 'u1', 'u1@x.io', 7, '[\"vip\"]', '[]')",
            "insert into target_intercom_companies values ('acme', 'k1', 9, '[]', '[\"c1\"]')",
        ):
            connection.execute(sa.text(ddl))
    store = store_at(str(tmp_path / "s.db"), None, read_only=False)
    store.open(None)
    assert store.contact("contact:external_id:u1") == StoredRow(
        "c1", 7, ("vip",), (), "u1", "u1@x.io", None, None
    )
    assert store.company("acme") == StoredRow("k1", 9, (), ("c1",))
    store.put_contact("c1", StoredRow("c1", 8, ("vip",), (), "u1", "u1@x.io", 1_700, 1_800))
    store.close()
    again = store_at(str(tmp_path / "s.db"), None, read_only=False)
    again.open(None)
    assert again.contact_by_id("c1") == StoredRow(
        "c1", 8, ("vip",), (), "u1", "u1@x.io", 1_700, 1_800
    )
    again.close()
    assert _version(engine) == "3"
    with engine.connect() as connection:
        assert sa.inspect(connection).has_table("target_intercom_events")
