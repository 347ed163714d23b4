"""Contacts' reference lists of custom object instances, each written whole, once for all
the changes waiting for it.

Whether a write of a reference attribute replaces or extends the list is not documented
(intercom-facts.md), so the whole list is sent: the ids it held (as the sync store kept
them, else as `GET /custom_object_instances/{type}?references_contact_id=` lists them;
none for a contact this run created) with the new ones in and those moved elsewhere out.
Rows put their changes in a contact's waiting list (`wait`) and take turns at it
(`apply`): whoever writes takes every change waiting then, so a contact's rows cost one
write of its list, not one each. What each list holds is kept in the sync store, beside
companies (keys.custom_object_references), forgotten before a write and kept once
Intercom confirmed it: a list already as it should be costs no call, and a kill costs at
most a call, never a skip.
"""

from __future__ import annotations

import threading
from typing import Any

from target_intercom import keys
from target_intercom.client import ApiError, Client
from target_intercom.writers.absent import merged_into, request_unless_absent
from target_intercom.writers.known import Known, KnownCompanies, KnownContacts, fingerprint
from target_intercom.writers.references_to_come import ReferenceToCome

INSTANCES = "/custom_object_instances/{type}"
PAGE_SIZE = 150  # the description's maximum per_page
MAX_PAGES = 1000  # a bound on one contact's listing: 150,000 instances


class ReferenceLists:
    """The contacts' reference lists: the changes waiting for each, and their writes."""

    def __init__(self, client: Client, contacts: KnownContacts, store: KnownCompanies) -> None:
        self._client = client
        self._contacts = contacts
        # The lists as last written, under their own key namespace.
        self._store = store
        self._guard = threading.Lock()
        self._lists: dict[str, _Waiting] = {}

    def apply(self, rest: ReferenceToCome, key: str, contact_id: str, *, adding: bool) -> bool:
        """Puts the instance in (`adding`) or out of a contact's reference list: whether a
        call changed it.

        The instance waits at the list since its upsert; rows of one contact take turns,
        and whoever writes takes every change waiting then, so a contact's rows cost one
        write of the list, not one each. A row whose change another row's write took
        returns at once (that write is confirmed); a row whose write fails takes its own
        change out (its error reports it), leaving the others waiting."""
        with self._guard:
            waiting = self._lists.get(key)
            if waiting is None or rest.instance_id not in waiting.side(adding):
                return True  # another row's write took it
            waiting.rows += 1
        try:
            with waiting.turn:
                if rest.instance_id not in waiting.side(adding):
                    return True  # written by the row before, with this one
                ids, gone = tuple(waiting.ids), tuple(waiting.gone)
                changed = self._write(rest, contact_id, key, ids, gone)
                with self._guard:
                    for written in ids:
                        waiting.ids.pop(written, None)
                    for removed in gone:
                        waiting.gone.pop(removed, None)
                return changed
        except BaseException:
            with self._guard:
                waiting.side(adding).pop(rest.instance_id, None)
            raise
        finally:
            with self._guard:
                waiting.rows -= 1
                if not waiting.rows and not waiting.ids and not waiting.gone:
                    self._lists.pop(key, None)

    def wait(self, key: str, instance_id: str, *, adding: bool) -> None:
        """The instance waits to go in (`adding`) or out of a contact's list; the latest
        row of it decides."""
        with self._guard:
            waiting = self._lists.setdefault(key, _Waiting())
            waiting.side(adding)[instance_id] = None
            waiting.side(not adding).pop(instance_id, None)

    def _write(
        self,
        rest: ReferenceToCome,
        contact_id: str,
        key: str,
        ids: tuple[str, ...],
        gone: tuple[str, ...],
        *,
        merged: bool = False,
    ) -> bool:
        """Writes the contact's list with these instances in it and those `gone` out of
        it, unless it is so already; `merged`: the contact is the one Intercom kept of a
        merge (once, no further)."""
        known = self._store.get(key)
        if known is None and self._contacts.made_this_run(contact_id):
            held: tuple[str, ...] = ()
        elif known is None or known.fingerprint is None:
            held = self._listed(rest.type_name, contact_id)
        else:
            held = known.links
        kept = tuple(i for i in held if i not in gone)
        wanted = (*kept, *(i for i in ids if i not in kept and i not in gone))
        if wanted == held:
            if known is None or known.fingerprint is None:
                self._remember(key, contact_id, held)
            return False
        if known is not None:
            self._store.doubt(key)
        body = {"custom_attributes": {rest.reference_attribute: list(wanted)}}
        try:
            answer = self._client.request(
                "PUT", "/contacts/{id}", path={"id": contact_id}, json_body=body, needs=("id",)
            ).body
        except ApiError as exc:
            kept_contact = merged_into(exc)
            if kept_contact is None or kept_contact == contact_id or merged:
                if exc.status in (404, 410) and not ids:
                    return False  # the contact is gone: no list holds the instance there
                raise
            # Merged since this target met it (410): the change goes to the contact
            # Intercom kept, as a merged contact's events do.
            kept_key = keys.custom_object_references(rest.reference_attribute, kept_contact)
            return self._write(rest, kept_contact, kept_key, ids, gone, merged=True)
        self._remember(key, contact_id, wanted)
        self._contacts.touched(contact_id, answer.get("updated_at"))
        return True

    def _remember(self, key: str, contact_id: str, ids: tuple[str, ...]) -> None:
        self._store.remember(key, Known(contact_id, fingerprint(*ids), links=ids))

    def _listed(self, type_name: str, contact_id: str) -> tuple[str, ...]:
        """The ids of the contact's instances of this type, as Intercom lists them."""
        ids: list[str] = []
        for page in range(1, MAX_PAGES + 1):
            params = {
                "references_contact_id": contact_id,
                "page": str(page),
                "per_page": str(PAGE_SIZE),
            }
            answer = request_unless_absent(
                self._client, "GET", INSTANCES, path={"type": type_name}, params=params
            )
            if answer is None:  # the contact is gone: the write that follows says so
                break
            body: Any = answer.body
            data = body.get("data") if isinstance(body, dict) else None
            ids += [str(item["id"]) for item in data or () if isinstance(item, dict)]
            pages = body.get("pages") if isinstance(body, dict) else None
            total = pages.get("total_pages") if isinstance(pages, dict) else None
            if not data or not isinstance(total, int) or page >= total:
                break
        return tuple(dict.fromkeys(ids))


class _Waiting:
    """A contact's list as rows wait to write it: the instances to put in and to take
    out, the turn to write, and how many rows are at it (dropped when none is and
    nothing waits)."""

    def __init__(self) -> None:
        # Insertion-ordered sets: the list keeps row order.
        self.ids: dict[str, None] = {}
        self.gone: dict[str, None] = {}
        self.turn = threading.Lock()
        self.rows = 0

    def side(self, adding: bool) -> dict[str, None]:
        """The instances waiting to go in (`adding`), or out."""
        return self.ids if adding else self.gone
