"""Upserting one contact with as few calls as Intercom allows, never creating a duplicate.

Create first: a new contact costs one `POST /contacts`. Intercom answers 409 when the
contact exists and names its id ("... already exists with id=X"), so an existing one
costs a second call (`PUT`), an archived one a third (`unarchive`). Search is not used
to decide create-or-update, because it lags minutes behind creates. Contacts met
before, in this run or (through the sync store) an earlier one, cost one `PUT` by their
id, or nothing when the record is unchanged; only tags and companies not applied before
are sent.

Two exceptions, because Intercom's 409 cannot be relied on for them:
- A lead known only by email never gets a 409, so it is searched for before it is
  created, and its create is never sent twice: when its answer is lost, search decides.
- A 409 that names no contact may be spurious (it goes away on a second try) or mean
  that several contacts match; the create is tried again, then the contact is looked up.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from target_intercom.client import ApiError, Client, Unanswered
from target_intercom.errors import RecordError
from target_intercom.mapping import ContactPlan
from target_intercom.pacing import pause
from target_intercom.settings import DeleteMode
from target_intercom.waits import Waits
from target_intercom.writers.absent import request_unless_absent
from target_intercom.writers.attributes import DataAttributes
from target_intercom.writers.companies import CompanyWriter
from target_intercom.writers.known import Known, KnownContacts, asked
from target_intercom.writers.lookup import ContactLookup
from target_intercom.writers.modes import WriteModes
from target_intercom.writers.tags import Applying, Tags
from target_intercom.writers.workspace_index import WorkspaceIndex

_CONFLICT_ID = re.compile(r"id=([A-Za-z0-9_-]+)")
# How a contact was written: (outcome, Intercom id, the contact as Intercom answered).
Upserted = tuple[str, str, dict[str, Any]]


class ContactWriter:
    """Contacts: create, else update by the id a 409 names; deletes, tags and companies."""

    def __init__(
        self,
        client: Client,
        attributes: DataAttributes,
        companies: CompanyWriter,
        known: KnownContacts,
        lookup: ContactLookup,
        tags: Tags,
        index: WorkspaceIndex,
        *,
        delete_mode: DeleteMode,
        modes: WriteModes,
        stopping: threading.Event | None = None,
        waits: Waits,
    ) -> None:
        self._waits = waits
        self._stopping = stopping or threading.Event()
        self._client = client
        self._attributes = attributes
        self._companies = companies
        self._known = known
        self._lookup = lookup
        self._tags = tags
        self._index = index
        self._delete_mode = delete_mode
        self._modes = modes

    def write(self, plan: ContactPlan) -> str:
        """Applies one users record; returns its outcome for the run summary. What each
        call did is recorded as soon as Intercom confirms it, so a record that fails half
        way leaves the store telling what Intercom holds."""
        if plan.deleted:
            return self._remove(plan)
        print_ = asked(plan)
        known = self._known.get(plan.external_id, plan.email)
        if known is not None and known.fingerprint == print_ and not self._modes.full_resync:
            outcome, contact_id = "unchanged", known.intercom_id
        else:
            custom = self._attributes.prepare(
                "contact", plan.custom_attributes, plan.attribute_types
            )
            body = dict(plan.fields)
            if custom:
                body["custom_attributes"] = custom
            if known is not None and known.fingerprint is not None:
                self._known.doubt(known.intercom_id)
            upserted = self._upsert(body, known)
            if upserted is None:
                return "not_in_intercom"
            outcome, contact_id, answer = upserted
            if known is None or known.intercom_id != contact_id:
                # A new contact, or the old one gone: nothing was applied to this one.
                known = Known(contact_id, None)
            email = answer.get("email", body.get("email"))
            known = known.but(
                fingerprint=print_,
                external_id=answer.get("external_id", body.get("external_id")),
                email=str(email).lower() if email else None,
            )
            self._known.remember(plan.external_id, plan.email, known)
        written = [known]

        def recorded(**changes: object) -> None:
            written[0] = written[0].but(**changes)
            self._known.remember(plan.external_id, plan.email, written[0])

        tagging = Applying(
            self._modes.mirror, self._modes.full_resync, lambda tags: recorded(tags=tags)
        )
        sent = self._tags.apply_to_contact(contact_id, plan.tags, known.tags, tagging)
        linking = Applying(
            self._modes.mirror, self._modes.full_resync, lambda links: recorded(links=links)
        )
        sent |= self._link_companies(contact_id, plan, written[0].links, linking)
        if outcome == "unchanged":
            return "updated" if sent else outcome
        return outcome

    def settled(self, plan: ContactPlan) -> str | None:
        """ "unchanged" when the record would make no call, found without one (so the
        reading thread can settle it and spare a hand-off to a worker); else None, and
        `write` does the work. Only a shortcut: `write` reaches the same answer."""
        if plan.deleted or self._modes.full_resync:
            return None
        known = self._known.get(plan.external_id, plan.email)
        if known is None or known.fingerprint != asked(plan):
            return None
        if not self._modes.covers(known.tags, plan.tags):
            return None
        listed = []
        for link in plan.companies:
            if link.remove or (
                link.company is not None and not self._companies.holds(link.company)
            ):
                return None
            listed.append(link.company_id)
        if not self._modes.covers(known.links, listed):
            return None
        return "unchanged"

    def prefetch(self, plans: list[Any]) -> None:
        """The store's rows of these records' contacts, read at once, before `settled`
        asks of each (KnownContacts.prefetch)."""
        self._known.prefetch(
            (plan.external_id, plan.email) for plan in plans if isinstance(plan, ContactPlan)
        )

    def _upsert(self, body: dict[str, Any], known: Known | None) -> Upserted | None:
        """Updates the contact known by id, else creates it (or, in update_only, finds
        it): (outcome, Intercom id, the contact as Intercom answered), or None when
        update_only finds no contact."""
        if known is not None:
            updated = request_unless_absent(
                self._client,
                "PUT",
                "/contacts/{contact_id}",
                path={"contact_id": known.intercom_id},
                json_body=_update_body(body),
                needs=("id",),
            )
            if updated is not None:
                return "updated", known.intercom_id, _contact(updated.body)
            # Deleted or merged since we saw it: fall through to a create.
        if self._modes.update_only:
            found = self._lookup.find(body.get("external_id"), body.get("email"), body.get("phone"))
            if found is None:
                return None
            return "updated", found, self._update(found, body)
        if body.get("role") == "lead" and "external_id" not in body and body.get("email"):
            return self._upsert_lead(body, str(body["email"]))
        if body.get("external_id") and body.get("email"):
            # A user someone added by email before this target knew them: theirs to carry
            # the external_id, whether or not Intercom's create would have said so.
            predating = self._index.holder_without_external_id(str(body["email"]))
            if predating is not None:
                answer = self._update(predating, body)
                self._index.claimed(str(body["email"]))
                return "updated", predating, answer
        for wait in (*self._waits.conflict_retries, None):
            try:
                created = _contact(
                    self._client.request("POST", "/contacts", json_body=body, needs=("id",)).body
                )
                return "created", str(created["id"]), created
            except ApiError as exc:
                if exc.status != 409:
                    raise
                conflict = exc
            message = conflict.intercom_message
            # "Multiple existing users match this email address": no try will differ.
            if _CONFLICT_ID.search(message) or "multiple" in message.lower() or wait is None:
                break
            pause(self._stopping, wait)
        contact_id = self._conflicting_id(conflict, body)
        archived = "archived" in conflict.intercom_message.lower()
        if archived:
            self._client.request(
                "POST", "/contacts/{contact_id}/unarchive", path={"contact_id": contact_id}
            )
        return "updated", contact_id, self._update(contact_id, body)

    def _conflicting_id(self, exc: ApiError, body: dict[str, Any]) -> str:
        match = _CONFLICT_ID.search(exc.intercom_message)
        if match:
            return match.group(1)
        # A 409 that names no contact, on every try: look it up instead.
        found = self._lookup.find(body.get("external_id"), body.get("email"), body.get("phone"))
        if found is None:
            raise RecordError(
                "Intercom answered every create with a conflict that names no contact "
                f"({exc.intercom_message!r}), and none was found by "
                f"{', '.join(self._lookup.lookup_fields)} (search lags behind creates; "
                "retry later)",
                "conflict",
            ) from None
        return found

    def _upsert_lead(self, body: dict[str, Any], email: str) -> Upserted:
        """Find, else create once: a lead's create is never sent twice for one record."""
        found = self._lookup.find_lead(email)
        if found is None:
            try:
                created = _contact(
                    self._client.request(
                        "POST", "/contacts", json_body=body, may_repeat=False, needs=("id",)
                    ).body
                )
                return "created", str(created["id"]), created
            except Unanswered as exc:
                made = self._await_lead(email)
                if made is None:
                    raise RecordError(
                        f"{exc.message}; search has not shown a lead with email {email!r} "
                        f"within {self._waits.lead_search_total:g}s, and the create was not sent "
                        "again so as not to make a second lead: load this record again "
                        "later (leads are looked up by email before they are created)",
                        "lead_unconfirmed",
                    ) from None
                return "created", made, {}
        return "updated", found, self._update(found, body)

    def _update(self, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The contact as Intercom answered the update."""
        return _contact(
            self._client.request(
                "PUT",
                "/contacts/{contact_id}",
                path={"contact_id": contact_id},
                json_body=_update_body(body),
                needs=("id",),
            ).body
        )

    def _await_lead(self, email: str) -> str | None:
        for wait in self._waits.lead_search:
            pause(self._stopping, wait)
            found = self._lookup.find_lead(email)
            if found is not None:
                return found
        return None

    def _remove(self, plan: ContactPlan) -> str:
        if self._delete_mode == "ignore":
            return "delete_ignored"
        contact_id = self._known.id_of(plan.external_id, plan.email) or self._lookup.find(
            plan.external_id, plan.email, plan.fields.get("phone")
        )
        self._known.removed(plan.external_id, plan.email, contact_id)
        if contact_id is None:
            return "already_absent"
        if self._delete_mode == "delete":
            method, template, outcome = "DELETE", "/contacts/{contact_id}", "deleted"
        else:
            method, template, outcome = "POST", "/contacts/{contact_id}/archive", "archived"
        done = request_unless_absent(
            self._client, method, template, path={"contact_id": contact_id}
        )
        return outcome if done is not None else "already_absent"

    def _link_companies(
        self, contact_id: str, plan: ContactPlan, attached: tuple[str, ...], how: Applying
    ) -> bool:
        """Upserts the record's companies that changed, attaches the contact to those it
        was not attached to by this target, detaches it from those the record removes
        (and, under mirror, from those this target attached that the record no longer
        lists; a company the contact was in before this target attached it is someone
        else's, and stays). Whether any call was made."""
        now = set(attached)
        sent = False
        listed = {link.company_id for link in plan.companies if not link.remove}
        new = [c for c in listed if how.again or c not in now]
        theirs = (
            self._companies.of_contact(contact_id)
            if how.mirror and any(c not in now for c in new)
            else set()
        )
        for link in plan.companies:
            if link.remove:
                sent |= self._companies.detach(contact_id, link.company_id)
                if link.company_id in now:
                    now.discard(link.company_id)
                    how.recorded(tuple(sorted(now)))
                continue
            company_id, wrote = self._companies.ensure(
                link.company_id, link.company, create=not self._modes.update_only
            )
            sent |= wrote
            if company_id is None or link.company_id not in new:
                continue
            if link.company_id not in now and link.company_id in theirs:
                continue
            self._companies.attach(contact_id, company_id, link.company_id)
            now.add(link.company_id)
            how.recorded(tuple(sorted(now)))
            sent = True
        if how.mirror:
            for stale in sorted(now - listed):
                sent |= self._companies.detach(contact_id, stale)
                now.discard(stale)
                how.recorded(tuple(sorted(now)))
        return sent


def _contact(body: Any) -> dict[str, Any]:
    return body if isinstance(body, dict) else {}


def _update_body(body: dict[str, Any]) -> dict[str, Any]:
    """An update never sends role "lead": a contact that is a user stays one (Intercom
    does not turn users back into leads), and one that is a lead already is one."""
    if body.get("role") != "lead":
        return body
    return {k: v for k, v in body.items() if k != "role"}
