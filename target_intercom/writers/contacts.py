"""Upserting one contact with as few calls as Intercom allows, never creating a duplicate.

Create first: a new contact costs one `POST /contacts`. Intercom answers 409 when the
contact exists and names its id ("... already exists with id=X"), so an existing one
costs a second call (`PUT`), an archived one a third (`unarchive`). Search is not used
to decide create-or-update, because it lags minutes behind creates. Contacts met
before, in this run or (through the sync store) an earlier one, cost one `PUT` by their
id, or nothing when the record is unchanged; only tags and companies not applied before
are sent. Of a contact's rows in a history table, only the newest counts (its time is the
plan's `as_of`): an older row costs nothing, whenever it comes.

With phone in `lookup_fields` (RudderStack's lookup by a custom field), a contact the
target does not know is searched for by its phone before it is created (one search): a
contact someone made with that phone is updated, not doubled. Search may miss one made
minutes ago; it is the user's choice, and costs nothing when phone is not listed.

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
from target_intercom.writers.absent import merged_into, request_unless_absent
from target_intercom.writers.attributes import DataAttributes
from target_intercom.writers.companies import CompanyWriter
from target_intercom.writers.known import Known, KnownContacts, asked, newer, superseded
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
        way leaves the store telling what Intercom holds. A row older than the contact's
        last written one is "superseded": nothing of it is sent, its tags and companies
        neither (the newest row's stand; see known.superseded)."""
        if plan.deleted:
            return self._remove(plan)
        print_ = asked(plan)
        known = self._known.get(plan.external_id, plan.email)
        if superseded(known, plan):
            return "superseded"
        if known is not None and known.fingerprint == print_ and not self._modes.full_resync:
            outcome, contact_id = "unchanged", known.intercom_id
            if newer(known, plan):
                known = known.but(as_of=plan.as_of)
                self._known.remember(plan.external_id, plan.email, known)
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
            updated_at = answer.get("updated_at")
            known = known.but(
                fingerprint=print_,
                as_of=plan.as_of,
                external_id=answer.get("external_id", body.get("external_id")),
                email=str(email).lower() if email else None,
                # What tells this write from a later edit made in Intercom (intercom_edits.py).
                updated_at=updated_at if isinstance(updated_at, int) else None,
            )
            self._known.remember(plan.external_id, plan.email, known)
            if outcome == "created":
                self._known.made(contact_id)
            phone = body.get("phone")
            if phone and "phone" in self._lookup.lookup_fields:
                self._known.holds_phone(str(phone), contact_id)
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
        """ "unchanged" (or "superseded") when the record would make no call, found
        without one (so the reading thread can settle it and spare a hand-off to a
        worker); else None, and `write` does the work. Only a shortcut: `write` reaches
        the same answer (and records a newer row's time, unchanged or not)."""
        if plan.deleted or self._modes.full_resync:
            return None
        known = self._known.get(plan.external_id, plan.email)
        if superseded(known, plan):
            return "superseded"
        if known is None or known.fingerprint != asked(plan) or newer(known, plan):
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
            # The record's external_id goes only to a contact that holds it or none: one
            # Intercom showed with another (the contact it merged ours into) keeps its own.
            ours = known.external_id in (None, body.get("external_id"))
            updated = self._update_known(known.intercom_id, body, ours)
            if updated is not None:
                return updated
            # Deleted since we saw it (or merged, with no Link to follow): a create follows.
        if self._modes.update_only:
            found = self._lookup.find(body.get("external_id"), body.get("email"), body.get("phone"))
            if found is None:
                return None
            return "updated", found, self._update(found, body)
        if body.get("role") == "lead" and "external_id" not in body and body.get("email"):
            return self._upsert_lead(body, str(body["email"]))
        # Filed by a listing of the workspace since the record was read (a cold store), or
        # a user someone added by email before this target knew them: theirs to carry the
        # external_id, whether or not Intercom's create would have said so.
        holder = self._index.holder(body.get("external_id"), body.get("email"))
        if holder is not None:
            updated = self._update_known(holder.intercom_id, body, True)
            if updated is not None:
                if holder.claimed:
                    self._index.claimed(str(body["email"]))
                return updated
        by_phone = self._found_by_phone(body)
        if by_phone is not None:
            return "updated", by_phone, self._update(by_phone, body)
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
        if known is None and _CONFLICT_ID.search(conflict.intercom_message):
            self._index.missed()
        contact_id = self._conflicting_id(conflict, body)
        archived = "archived" in conflict.intercom_message.lower()
        if archived:
            self._client.request(
                "POST", "/contacts/{contact_id}/unarchive", path={"contact_id": contact_id}
            )
        return "updated", contact_id, self._update(contact_id, body)

    def _found_by_phone(self, body: dict[str, Any]) -> str | None:
        """RudderStack's lookup by a custom field: with phone in lookup_fields, a contact
        this target does not know is searched for by the record's phone (one search)
        before it is created, so that one someone made with that phone and no external_id
        is updated and given the record's external_id, not doubled. Without phone listed,
        or without a phone in the record, no search is made."""
        phone = body.get("phone")
        if "phone" not in self._lookup.lookup_fields or not phone:
            return None
        return self._lookup.one_by_phone(str(phone), body.get("external_id"), claiming=True)

    def _update_known(self, contact_id: str, body: dict[str, Any], ours: bool) -> Upserted | None:
        """Updates a contact by the id the target holds for it; None when it is gone (404,
        or 410 naming no contact it was merged into), so that the record is created again.

        A contact merged into another answers 410 with a `Link` to the one Intercom kept:
        the update goes there (one more call, not a create), without the record's
        external_id, which may not be the kept contact's, and the merged one is forgotten.
        What this target applied to the merged one (tags, companies) is applied to the
        kept one again, since what a merge moves is not documented."""
        try:
            return "updated", contact_id, self._update(contact_id, body, ours)
        except ApiError as exc:
            canonical = merged_into(exc)
            if canonical is None or canonical == contact_id:
                if exc.status in (404, 410):
                    return None
                raise
        self._known.removed(None, None, contact_id)
        followed = request_unless_absent(
            self._client,
            "PUT",
            "/contacts/{contact_id}",
            path={"contact_id": canonical},
            json_body=_update_body(body, ours=False),
            needs=("id",),
        )
        return None if followed is None else ("updated", canonical, _contact(followed.body))

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

    def _update(self, contact_id: str, body: dict[str, Any], ours: bool = True) -> dict[str, Any]:
        """The contact as Intercom answered the update (`ours`: see `_update_body`)."""
        return _contact(
            self._client.request(
                "PUT",
                "/contacts/{contact_id}",
                path={"contact_id": contact_id},
                json_body=_update_body(body, ours),
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


def _update_body(body: dict[str, Any], ours: bool = True) -> dict[str, Any]:
    """An update never sends role "lead": a contact that is a user stays one (Intercom
    does not turn users back into leads), and one that is a lead already is one. Nor,
    unless the contact is `ours` (it holds the record's external_id or none), the
    record's external_id: another contact's own is never written over."""
    dropped = {"role"} if body.get("role") == "lead" else set()
    if not ours:
        dropped.add("external_id")
    return {k: v for k, v in body.items() if k not in dropped} if dropped else body
