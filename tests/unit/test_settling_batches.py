"""Records that may start at once are settled in batches: the sync store is read once per
batch, not once per record, and no record waits in a batch for long."""

from __future__ import annotations

import threading
import time
from typing import Any

from target_intercom.delivery import Delivery
from target_intercom.metrics import Metrics
from target_intercom.stop_request import StopRequest
from target_intercom.syncstore import _KEYS_PER_READ, SyncStore, store_at
from target_intercom.syncstore_tables import StoredRow
from target_intercom.writers.known import KnownContacts
from tests.unit.test_delivery_pool import WAIT, Work, Writers, Written, done


class PrefetchingWriters(Writers):
    """The pool's test writers, noting each batch they are asked to read ahead for."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def prefetch(self, plans: list[Any]) -> None:
        self.batches.append(len(plans))


def make(writers: Writers, workers: int = 4) -> tuple[Delivery, Written]:
    written = Written()
    delivery = Delivery(
        writers=writers,
        stop=StopRequest(),
        max_concurrency=workers,
        dead_letter=None,
        write_state=written,
        metrics=Metrics(),
    )
    return delivery, written


def test_unchanged_records_are_read_for_in_one_batch_and_their_state_goes_out() -> None:
    writers = PrefetchingWriters()
    delivery, written = make(writers)
    for i in range(10):
        delivery.submit("users", f"u{i}", {}, Work([f"contact:u{i}"], done(), lambda: "unchanged"))
    delivery.state({"at": 10})
    assert writers.batches == [10]
    assert written.states == [{"at": 10}]
    assert delivery.delivered == 10
    delivery.finish()


def test_a_record_alone_is_written_without_waiting_for_more_input() -> None:
    """A tap that sends one record and then nothing for a while: the record still goes out."""
    wrote = threading.Event()

    def write() -> str:
        wrote.set()
        return "created"

    delivery, _ = make(PrefetchingWriters())
    started = time.monotonic()
    delivery.submit("users", "u1", {}, Work(["contact:u1"], write))
    assert wrote.wait(WAIT)
    assert time.monotonic() - started < 1.0
    delivery.finish()


def test_a_full_window_of_records_waiting_on_a_batch_does_not_stall_reading() -> None:
    """Records behind a batched one (same key) fill the window: the reading thread settles
    the batch instead of waiting for room that only it can make."""
    delivery, _ = make(PrefetchingWriters(), workers=1)
    for i in range(40):
        delivery.submit("users", f"u{i}", {}, Work(["contact:same"], done(), lambda: None))
    delivery.finish()
    assert delivery.delivered == 40


def _store(tmp_path: Any) -> SyncStore:
    store = store_at(str(tmp_path / "s.db"), None, read_only=False)
    store.open("ws")
    return store


def test_reading_many_keys_at_once_answers_as_reading_each(tmp_path: Any) -> None:
    store = _store(tmp_path)
    for i in range(_KEYS_PER_READ + 5):
        store.put_key(f"contact:external_id:u{i}", f"c{i}")
        store.put_contact(f"c{i}", StoredRow(f"c{i}", i, ("vip",), (), f"u{i}", None))
    store.put_key("contact:external_id:gone", "c-gone")
    store.put_contact("c-gone", StoredRow("c-gone", 1, (), ()))
    store.close()
    store = _store(tmp_path)  # the rows above are in the database now
    # Not yet written: a new contact, a changed one, a removed one, a key naming none.
    store.put_key("contact:external_id:new", "c-new")
    store.put_contact("c-new", StoredRow("c-new", 7, (), (), "new", None))
    store.put_contact("c1", StoredRow("c1", 99, (), (), "u1", None))
    store.put_contact("c-gone", None)
    store.put_key("contact:external_id:u2", None)
    keys = [f"contact:external_id:{name}" for name in ("new", "gone", "nobody")] + [
        f"contact:external_id:u{i}" for i in range(_KEYS_PER_READ + 5)
    ]
    assert store.contacts(keys) == {key: store.contact(key) for key in keys}
    assert store.contacts(keys)["contact:external_id:u1"] == StoredRow("c1", 99, (), (), "u1", None)
    store.close()


def test_contacts_read_ahead_are_not_read_again(tmp_path: Any) -> None:
    store = _store(tmp_path)
    store.put_key("contact:external_id:u1", "c1")
    store.put_contact("c1", StoredRow("c1", 5, (), (), "u1", None))
    store.close()
    store = _store(tmp_path)
    known = KnownContacts(store)
    known.prefetch([("u1", None), ("u2", "u2@x.io"), (None, None)])

    def no_read(key: str) -> None:
        raise AssertionError(f"read {key} again")

    store.contact = no_read  # type: ignore[method-assign]
    found = known.get("u1", None)
    assert found is not None
    assert (found.intercom_id, found.fingerprint) == ("c1", 5)
    assert known.get("u2", "u2@x.io") is None
    store.close()
