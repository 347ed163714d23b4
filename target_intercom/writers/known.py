"""What the target knows about Intercom: its contacts and companies, as this run and the sync
store met them.

Both writers ask the same questions (which Intercom id does this record name? what was
last written to it? which tags and memberships did this target make?), and the answers
must agree whichever writer asks, so they have one home. What this run learned sits in a
bounded memory in front of the sync store, which keeps it for the next run; both are
written only after Intercom confirmed. The memory also holds what the store does not
keep: what was written to each contact this run (whatever key the record came by), the
contacts removed this run, the keys the store has no row for (so a new contact costs one
read of the store, not two), and which contacts this run wrote an email to. Its budget
is the one the run's id cache had: 50,000 entries in all, about 200 bytes each.

The identity rule: a record with an external_id is that contact and no other, filed and
found by its external_id only; a record with only an email is filed and found by it. Every
key names one Intercom contact, and everything known (what was written, the tags and
companies this target applied, its external_id and email as Intercom showed them) belongs
to that contact, whichever key a record came by; an email is never taken for a user who
has an external_id of its own. A fingerprint is recorded as soon as Intercom confirmed
the call that wrote it, and forgotten (durably) before a call that changes it is sent.

With phone in `lookup_fields`, a phone also names the contact this target last wrote or
found with it (none when two did), for group calls that name their user by phone: search
lags behind creates, so a contact this run made could not be found by it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

from target_intercom import keys
from target_intercom.mapping import CompanyPlan, ContactPlan
from target_intercom.syncstore import SyncStore
from target_intercom.syncstore_tables import StoredRow

# Enough for the records that repeat within a run, small enough that a load of
# millions keeps flat memory (about 200 bytes an entry).
DEFAULT_MAX_ENTRIES = 50_000
_LOCK_STRIPES = 64

V = TypeVar("V")

# json.dumps(parts, sort_keys=True, default=str, separators=(",", ":")), made once: dumps
# builds an encoder per call when given options, and every record is fingerprinted. Its
# text must never change, or every stored fingerprint would stop matching.
_FINGERPRINT_ENCODER = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))


class Known(NamedTuple):
    """What Intercom holds of one contact or company, as far as this target knows.

    Immutable, as it is shared between threads; a named tuple rather than a frozen
    dataclass, because a re-sync makes one per record read and a frozen dataclass costs
    several times as much to build."""

    intercom_id: str
    # Of the fields and custom attributes last written, to skip identical writes; None
    # when the id was found but nothing written yet.
    fingerprint: int | None
    # The tags this target applied, and the companies (for a company: the members) it
    # attached, so that a changed record sends only what is new, and mirror removes only
    # what this target made.
    tags: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    # A contact's external_id and email (lower case) as Intercom last showed them.
    external_id: str | None = None
    email: str | None = None
    # When the row whose values were last written was made (StoredRow.as_of), and a
    # contact's updated_at as Intercom answered this target's last write.
    as_of: int | None = None
    updated_at: int | None = None

    def row(self) -> StoredRow:
        """The sync store's row of this knowledge."""
        return StoredRow(
            self.intercom_id,
            self.fingerprint,
            self.tags,
            self.links,
            self.external_id,
            self.email,
            self.as_of,
            self.updated_at,
        )

    def but(self, **changes: object) -> Known:
        """This knowledge with some of it changed."""
        return self._replace(**changes)  # type: ignore[arg-type]


def fingerprint(*parts: object) -> int:
    """A cheap identity of what a record wrote, to skip writing the same thing twice. The
    same in every process (Python's hash() is not), since the sync store keeps it across
    runs; 8 bytes, so that it fits a signed 64-bit column."""
    text = _FINGERPRINT_ENCODER.encode(parts)
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def asked(plan: ContactPlan | CompanyPlan) -> int:
    """The fingerprint of what a record asks (its fields and custom attributes), not of the
    body sent: an unchanged row is known as such before its attributes are checked against
    the workspace's."""
    return fingerprint(plan.fields, plan.custom_attributes)


def superseded(known: Known | None, plan: ContactPlan | CompanyPlan) -> bool:
    """Whether the row is older than the one whose values were last written: then it is
    settled without a call, so that of a history table's rows the newest one's values stay,
    in whatever order the rows come and however often they are loaded again. A row with
    the same time is not: it may be that row corrected, or its twin, and is compared by
    its fingerprint (the later one in the input is sent)."""
    return (
        known is not None
        and known.as_of is not None
        and plan.as_of is not None
        and plan.as_of < known.as_of
    )


def newer(known: Known, plan: ContactPlan | CompanyPlan) -> bool:
    """Whether the row is newer than the one last written: an unchanged one still moves
    the time kept forward, so that a row older than it that comes later is superseded."""
    return plan.as_of is not None and (known.as_of is None or plan.as_of > known.as_of)


def _known(row: StoredRow | None) -> Known | None:
    return None if row is None else Known(*row)


class _Memory(Generic[V]):
    """A bounded, thread-safe LRU: the least recently used entries go first."""

    def __init__(self, max_entries: int) -> None:
        self._entries: OrderedDict[str, V] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


def _identity(external_id: str | None, email: str | None) -> str | None:
    """The key a record's contact is filed under, by the identity rule."""
    if external_id is not None:
        return keys.contact_by_external_id(external_id)
    return keys.contact_by_email(email) if email is not None else None


class _Filed(NamedTuple):
    """What a contact key names, as this run met it: a contact, or none (the store has no
    row for it, or the contact was removed)."""

    intercom_id: str | None


@dataclass(frozen=True)
class _Removed:
    """The contact was archived or deleted by this run."""


class KnownContacts:
    """Known contacts, by the identity rule, for every writer.

    Three bounded memories share the budget of `max_entries`: what each key names, what
    each contact holds, and which contacts this run wrote each email to (a dry run's store
    keeps nothing, so memory is all it has); a fourth, of a third too, which contacts this
    run created.
    """

    def __init__(self, store: SyncStore, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._store = store
        self._filed: _Memory[_Filed] = _Memory(max_entries // 3)
        # Intercom id -> what is known of that contact, or that this run removed it.
        self._contacts: _Memory[Known | _Removed] = _Memory(max_entries // 3)
        self._holders: _Memory[frozenset[str]] = _Memory(max_entries // 3)
        # The contacts this run created.
        self._made: _Memory[bool] = _Memory(max_entries // 3)
        # What is kept of one contact is read, changed and written back by `found` (the
        # listing of the workspace, a search) while a worker may record a write to it:
        # each under the contact's lock, so that neither undoes the other (a fingerprint
        # lost would cost a call on the next run). Striped: memory does not grow.
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    def get(self, external_id: str | None, email: str | None) -> Known | None:
        """What is known of the contact the record names: as this run last met it, else
        as the sync store kept it from an earlier run."""
        key = _identity(external_id, email)
        if key is None:
            return None
        filed = self._filed.get(key)
        if filed is None:
            # Read once: a new contact is asked about twice (is it unchanged? then, to
            # write it), and the store's answer is kept for the second time.
            filed, known = self._file(key, self._store.contact(key))
            if known is not None:
                return known
        if filed.intercom_id is None:
            return None
        return self._of(filed.intercom_id)

    def prefetch(self, identities: Iterable[tuple[str | None, str | None]]) -> None:
        """Reads what the sync store holds of the contacts these (external_id, email)
        name and this run has not met, in one read, and keeps it as `get` would: a
        re-sync then asks the store once per batch of records, not once per record."""
        keys = [key for key in dict.fromkeys(_identity(*names) for names in identities) if key]
        unmet = [key for key in keys if self._filed.get(key) is None]
        for key, stored in self._store.contacts(unmet).items():
            self._file(key, stored)

    def _file(self, key: str, stored: StoredRow | None) -> tuple[_Filed, Known | None]:
        """Keeps what the store said of a key not met yet: what the key names, and the
        contact when this is the first news of it."""
        filed = _Filed(None if stored is None else stored.intercom_id)
        self._filed.put(key, filed)
        if stored is None or self._contacts.get(stored.intercom_id) is not None:
            return filed, None
        known = Known(*stored)
        self._contacts.put(stored.intercom_id, known)
        return filed, known

    def _of(self, intercom_id: str) -> Known | None:
        held = self._contacts.get(intercom_id)
        if isinstance(held, _Removed):
            # Removed by a record that named it another way (by email, say): the next
            # write must meet Intercom's answer for an archived contact, not update blindly.
            return None
        if held is not None:
            return held
        known = _known(self._store.contact_by_id(intercom_id)) or Known(intercom_id, None)
        self._contacts.put(intercom_id, known)
        return known

    def id_filed_as(self, key: str) -> str | None:
        """The Intercom id a contact key (keys.contact_by_*) names, as this run or the
        store filed it."""
        filed = self._filed.get(key)
        if filed is None:
            filed, _ = self._file(key, self._store.contact(key))
        return filed.intercom_id

    def id_of(self, external_id: str | None, email: str | None) -> str | None:
        """The contact's Intercom id as this run or an earlier one met it."""
        known = self.get(external_id, email)
        return None if known is None else known.intercom_id

    def holders_of(self, email: str) -> tuple[str, ...]:
        """The contacts known to hold this email: written by this target (in this run or
        an earlier one), or shown by Intercom."""
        email = email.lower()
        held = set(self._store.holders(email)) | (self._holders.get(email) or frozenset())
        return tuple(
            sorted(
                intercom_id
                for intercom_id in held
                if (known := self._of(intercom_id)) is not None and known.email in (None, email)
            )
        )

    def holder_of(self, email: str) -> str | None:
        """The one contact known to hold this email; None when none or several do."""
        held = self.holders_of(email)
        return held[0] if len(held) == 1 else None

    def holder_without_external_id(self, email: str) -> str | None:
        """The one contact known to hold this email that has no external_id of its own."""
        free = [
            intercom_id
            for intercom_id in self.holders_of(email)
            if (known := self._of(intercom_id)) is not None and known.external_id is None
        ]
        return free[0] if len(free) == 1 else None

    def phone_holder(self, phone: str) -> str | None:
        """The contact this target last wrote or found with this phone (lookup_fields
        listing phone): a group call naming its user by phone finds it without a search,
        which lags behind creates."""
        key = keys.contact_by_phone(phone)
        filed = self._filed.get(key)
        if filed is None:
            filed, _ = self._file(key, self._store.contact(key))
        if filed.intercom_id is None or self._of(filed.intercom_id) is None:
            return None
        return filed.intercom_id

    def holds_phone(self, phone: str, intercom_id: str) -> None:
        """Intercom confirmed the contact holds this phone. Another contact filed under it
        already makes the phone name none (a search decides, and refuses several)."""
        key = keys.contact_by_phone(phone)
        before = self._filed.get(key) or self._file(key, self._store.contact(key))[0]
        named = intercom_id if before.intercom_id in (None, intercom_id) else None
        self._filed.put(key, _Filed(named))
        self._store.put_key(key, named)

    def remember(self, external_id: str | None, email: str | None, written: Known) -> None:
        """What Intercom just confirmed of the contact the record names."""
        intercom_id = written.intercom_id
        key = _identity(external_id, email)
        if key is not None:
            self._filed.put(key, _Filed(intercom_id))
            self._store.put_key(key, intercom_id)
        with self._lock_of(intercom_id):
            self._contacts.put(intercom_id, written)
            self._store.put_contact(intercom_id, written.row())
        if written.email is not None:
            held = self._holders.get(written.email) or frozenset()
            self._holders.put(written.email, held | {intercom_id})

    def made(self, intercom_id: str) -> None:
        """This run created the contact: it holds nothing this target did not give it."""
        self._made.put(intercom_id, True)

    def made_this_run(self, intercom_id: str) -> bool:
        """Whether this run created the contact (as far as memory keeps it): a reference
        list this target never wrote to it is then empty, without asking Intercom."""
        return bool(self._made.get(intercom_id))

    def touched(self, intercom_id: str, updated_at: object) -> None:
        """This target changed the contact by a call besides its upsert (a custom object
        reference): the `updated_at` Intercom answered is its own write, not an edit made
        in Intercom (notice_intercom_edits), so it is kept with what was last written."""
        held = self._of(intercom_id)
        if (
            held is None
            or held.updated_at is None
            or not isinstance(updated_at, int)
            or updated_at <= held.updated_at
        ):
            return
        changed = held.but(updated_at=updated_at)
        self._contacts.put(intercom_id, changed)
        self._store.put_contact(intercom_id, changed.row())

    def doubt(self, intercom_id: str) -> None:
        """A write that changes the contact is about to be sent: what was last written no
        longer describes it until Intercom confirms the new one, in memory and, before
        this returns, in the store (a kill in between then costs a call, never a skip)."""
        with self._lock_of(intercom_id):
            held = self._contacts.get(intercom_id)
            if isinstance(held, Known) and held.fingerprint is not None:
                self._contacts.put(intercom_id, held.but(fingerprint=None))
            self._store.doubt_contact(intercom_id)

    def found(self, external_id: str | None, email: str | None, intercom_id: str) -> None:
        """Intercom showed this contact, with this external_id (None: it has none) and,
        when given, this email: its key is filed unless it already names a contact, and
        what Intercom showed is kept with the contact."""
        key = _identity(external_id, email)
        if key is not None and self._store.contact(key) is None:
            self._filed.put(key, _Filed(intercom_id))
            self._store.put_key(key, intercom_id)
        with self._lock_of(intercom_id):
            held = self._contacts.get(intercom_id)
            known = (
                held
                if isinstance(held, Known)
                else _known(self._store.contact_by_id(intercom_id)) or Known(intercom_id, None)
            )
            shown = known.but(
                external_id=external_id, email=email.lower() if email else known.email
            )
            self._contacts.put(intercom_id, shown)
            self._store.put_contact(intercom_id, shown.row())

    def _lock_of(self, intercom_id: str) -> threading.Lock:
        return self._locks[hash(intercom_id) % _LOCK_STRIPES]

    def unfiled(self, external_id: str | None, email: str | None) -> None:
        """The key names no contact any more."""
        key = _identity(external_id, email)
        if key is not None:
            self._filed.put(key, _Filed(None))
            self._store.put_key(key, None)

    def removed(self, external_id: str | None, email: str | None, intercom_id: str | None) -> None:
        """The contact was archived or deleted: whatever key names it, it is not current."""
        for key in keys.contact(external_id, email):
            self._filed.put(key, _Filed(None))
            self._store.put_key(key, None)
        if intercom_id is not None:
            self._contacts.put(intercom_id, _Removed())
            self._store.put_contact(intercom_id, None)


class KnownCompanies:
    """Known companies, by company_id, for every writer."""

    def __init__(self, store: SyncStore, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._store = store
        # Two memories share the budget of `max_entries`.
        self._memory: _Memory[Known] = _Memory(max_entries // 2)
        # The companies this run wrote: full_resync sends each once, not once per record.
        self._written: _Memory[bool] = _Memory(max_entries // 2)

    def get(self, company_id: str) -> Known | None:
        """What was last written to the company: as this run met it, else as the store kept it."""
        known = self._memory.get(company_id)
        if known is None:
            known = _known(self._store.company(company_id))
            if known is not None:
                self._memory.put(company_id, known)
        return known

    def remember(self, company_id: str, known: Known) -> None:
        """The company's id and what was just written to it (Intercom confirmed it)."""
        self._memory.put(company_id, known)
        self._written.put(company_id, True)
        self._store.put_company(company_id, known.row())

    def written_this_run(self, company_id: str) -> bool:
        """Whether this run wrote the company already (full_resync sends each once)."""
        return bool(self._written.get(company_id))

    def doubt(self, company_id: str) -> None:
        """An upsert that changes the company is about to be sent (see KnownContacts.doubt)."""
        known = self._memory.get(company_id)
        if known is not None and known.fingerprint is not None:
            self._memory.put(company_id, known.but(fingerprint=None))
        self._store.doubt_company(company_id)

    def forget(self, company_id: str) -> None:
        """The company is gone from Intercom (deleted by hand): it is made again when named."""
        self._memory.forget(company_id)
        self._store.put_company(company_id, None)
