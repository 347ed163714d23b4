"""Users that were in Intercom before this target, found so that none is duplicated.

A record with an external_id and an email may be a person someone added to Intercom
by email alone. Whether Intercom answers the create of that new external_id with a 409
naming them, or with a second user, is not documented; so before such a contact is
created, the target finds out whether a user without an external_id holds the email,
and if one does, gives it the record's external_id instead.

Two ways to find out: one search per new email (a call each, for as long as the
target loads new contacts), or one listing of the whole workspace into the sync store
(`GET /contacts`, 150 a call, once). Which is cheaper depends on the input, which is a
stream of unknown length: searches are made until they have cost as many calls as the
listing would, then the workspace is listed (the ski-rental rule: never more than twice
the cheaper way). The count carries across runs in the store. Once listed, the store is
warm: a new contact costs its one create, and its check costs a read of the store.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from target_intercom.client import Client
from target_intercom.syncstore import SyncStore
from target_intercom.writers.known import KnownContacts
from target_intercom.writers.lookup import ContactLookup

PER_PAGE = 150
_LISTED = "contacts_listed"
_SEARCHES = "contact_searches"


class WorkspaceIndex:
    """Finds users that predate the target: by search, then by one listing of the workspace."""

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
        self._searches = 0
        self._pages: int | None = None

    def holder_without_external_id(self, email: str) -> str | None:
        """Intercom's id of the one user holding this email with no external_id, if any."""
        if not self._enabled:
            return None
        with self._lock:
            if self._listed is None:
                self._listed = self._store.meta(_LISTED) is not None
                self._searches = int(self._store.meta(_SEARCHES) or 0)
            if not self._listed:
                if self._pages is None:
                    self._pages = self._count_pages()
                if self._searches >= self._pages:
                    if self._pages:
                        self._list_workspace()
                    # An empty workspace: nothing predates us. Noted with the rows filed
                    # by the listing, so a kill before they are written lists it again.
                    self._store.note_meta(_LISTED, "1")
                    self._listed = True
                else:
                    self._searches += 1
                    self._store.note_meta(_SEARCHES, str(self._searches))
        if self._listed:
            return self._known.holder_without_external_id(email)
        return self._search(email)

    def claimed(self, email: str) -> None:
        """The user holding this email now carries an external_id: it is nobody else's to
        claim (two people may share an email, each with an external_id of their own)."""
        self._known.unfiled(None, email)

    def _count_pages(self) -> int:
        listing = self._client.request("GET", "/contacts", params={"per_page": "1"}).body or {}
        return math.ceil(int(listing.get("total_count") or 0) / PER_PAGE)

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
