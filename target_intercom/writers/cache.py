"""What this run already learned about Intercom ids, so a record seen before costs one call."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable

from target_intercom.mapping import CompanyPlan, ContactPlan
from target_intercom.syncstore import Known

# Enough for the records that repeat within a run, small enough that a load of
# millions keeps flat memory (about 200 bytes an entry).
DEFAULT_MAX_ENTRIES = 50_000


def fingerprint(*parts: object) -> int:
    """A cheap identity of what a record wrote, to skip writing the same thing twice. The
    same in every process (Python's hash() is not), since the sync store keeps it across
    runs; 8 bytes, so that it fits a signed 64-bit column."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def asked(plan: ContactPlan | CompanyPlan) -> int:
    """The fingerprint of what a record asks (its fields and custom attributes), not of the
    body sent: an unchanged row is known as such before its attributes are checked against
    the workspace's."""
    return fingerprint(plan.fields, plan.custom_attributes)


class IdCache:
    """A bounded, thread-safe LRU from our keys (external_id, email, company_id) to Intercom ids."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._entries: OrderedDict[str, Known] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, keys: Iterable[str]) -> Known | None:
        with self._lock:
            for key in keys:
                known = self._entries.get(key)
                if known is not None:
                    self._entries.move_to_end(key)
                    return known
        return None

    def put(self, keys: Iterable[str], known: Known) -> None:
        with self._lock:
            for key in keys:
                self._entries[key] = known
                self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)
