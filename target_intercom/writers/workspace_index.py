"""Contacts in Intercom the sync store does not know, found with as few calls as can be.

Two cases. A record with an external_id and an email may be a person someone added to
Intercom by email alone: whether Intercom answers the create of that new external_id
with a 409 naming them, or with a second user, is not documented, so before such a
contact is created, the target finds out whether a user without an external_id holds
the email, and if one does, gives it the record's external_id instead. And the store
may be colder than the workspace (deleted, or a new sync_store_path, with the contacts
loaded before): then every create answers 409 with the id of a contact the store did
not know, which costs a second call (the update) for every contact.

Both are answered by one listing of the whole workspace into the sync store (`GET
/contacts`, 150 a call, once): each user filed by its external_id, or by its email when
it has none. Until then each case costs calls of its own: a search per new email, a
failed create per contact the store did not know. Which is cheaper depends on the
input, a stream of unknown length, so calls are spent that way until they have cost as
many as the listing would (its pages, counted by one `GET /contacts?per_page=1`), then
the workspace is listed (the ski-rental rule: never more than twice the cheaper way).
The count carries across runs in the store. Once listed, the store is warm: a new
contact costs its one create, and a contact the listing filed its one update.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from target_intercom.client import Client
from target_intercom.syncstore import SyncStore
from target_intercom.writers.known import KnownContacts
from target_intercom.writers.lookup import ContactLookup

PER_PAGE = 150
_LISTED = "contacts_listed"
# The calls a listing would have spared so far (searches, then creates answered 409 too;
# the name is the one stores have kept it under since it counted searches alone).
_SPENT = "contact_searches"


@dataclass(frozen=True)
class Holder:
    """A contact in Intercom a record names, found without a create."""

    intercom_id: str
    # A user without an external_id found by the record's email: the record claims it,
    # so its email names it no longer (see `WorkspaceIndex.claimed`).
    claimed: bool


class WorkspaceIndex:
    """Finds the contacts the store does not know: by search or a failed create, then by
    one listing of the workspace."""

    def __init__(
        self,
        client: Client,
        lookup: ContactLookup,
        known: KnownContacts,
        store: SyncStore,
        *,
        enabled: bool = True,
    ) -> None:
        self._client = client
        self._lookup = lookup
        self._known = known
        # For the listing's progress only (its meta rows); contacts go through `known`.
        self._store = store
        # A dry run writes nothing to the store, so it would list the workspace for nothing.
        self._enabled = enabled
        self._lock = threading.Lock()
        self._listed: bool | None = None
        self._spent = 0
        self._pages: int | None = None

    def holder(self, external_id: str | None, email: str | None) -> Holder | None:
        """The contact a record the store did not know names, if a listing of the
        workspace filed it (a cold store), else, for a record with an external_id and an
        email, the one user holding the email with no external_id, if any."""
        if not self._enabled:
            return None
        predating = bool(external_id and email)
        with self._lock:
            self._load()
            searching = not self._listed and predating
            if searching and self._spent >= self._page_count():
                self._list()
                searching = False
            elif searching:
                self._spend()
        if self._listed:
            filed = self._known.id_of(external_id, email)
            if filed is not None:
                return Holder(filed, claimed=False)
        if not predating:
            return None
        assert email is not None
        held = (
            self._known.holder_without_external_id(email) if self._listed else self._search(email)
        )
        return None if held is None else Holder(held, claimed=True)

    def missed(self) -> None:
        """A create answered 409 naming a contact the store did not know: a call the
        listing would have spared, and a sign that the store is colder than the workspace."""
        if not self._enabled:
            return
        with self._lock:
            self._load()
            if self._listed:
                return
            self._spend()
            if self._spent >= self._page_count():
                self._list()

    def claimed(self, email: str) -> None:
        """The user holding this email now carries an external_id: it is nobody else's to
        claim (two people may share an email, each with an external_id of their own)."""
        self._known.unfiled(None, email)

    def _load(self) -> None:
        if self._listed is None:
            self._listed = self._store.meta(_LISTED) is not None
            self._spent = int(self._store.meta(_SPENT) or 0)

    def _spend(self) -> None:
        self._spent += 1
        self._store.note_meta(_SPENT, str(self._spent))

    def _page_count(self) -> int:
        if self._pages is None:
            listing = self._client.request("GET", "/contacts", params={"per_page": "1"}).body
            total = int((listing or {}).get("total_count") or 0)
            self._pages = math.ceil(total / PER_PAGE)
        return self._pages

    def _list(self) -> None:
        if self._pages:
            self._list_workspace()
        # An empty workspace: nothing predates us. Noted with the rows filed by the
        # listing, so a kill before they are written lists it again.
        self._store.note_meta(_LISTED, "1")
        self._listed = True

    def _search(self, email: str) -> str | None:
        holders = _without_external_id(self._lookup.holding("email", email))
        # Several hold it: none is named; the create's own answer decides.
        return holders[0] if len(holders) == 1 else None

    def _list_workspace(self) -> None:
        """Pages through every contact: the users with an external_id are filed under it,
        those without under their email (an email two of them hold under neither), so
        that the first write to any of them is an update by id."""
        by_email: dict[str, str] = {}
        starting_after: str | None = None
        while True:
            params = {"per_page": str(PER_PAGE)}
            if starting_after:
                params["starting_after"] = starting_after
            page = self._client.request("GET", "/contacts", params=params).body or {}
            for contact in page.get("data") or []:
                if contact.get("role") != "user":
                    continue
                external_id = contact.get("external_id")
                if external_id:
                    self._known.found(str(external_id), contact.get("email"), str(contact["id"]))
                elif contact.get("email"):
                    email = str(contact["email"]).lower()
                    by_email[email] = "" if email in by_email else str(contact["id"])
            starting_after = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
            if not starting_after:
                break
        for email, intercom_id in by_email.items():
            if intercom_id:
                self._known.found(None, email, intercom_id)


def _without_external_id(contacts: list[dict[str, Any]]) -> list[str]:
    return [str(c["id"]) for c in contacts if c.get("role") == "user" and not c.get("external_id")]
