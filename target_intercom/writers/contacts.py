"""Upserting one contact with as few calls as Intercom allows, never creating a duplicate.

Create first: a new contact costs one `POST /contacts`. Intercom answers 409 when the
contact exists and names its id ("... already exists with id=X"), so an existing one
costs a second call (`PUT`), an archived one a third (`unarchive`). Search is not used
to decide create-or-update, because it lags minutes behind creates. Contacts seen
earlier in the run are remembered, so they cost one `PUT`, or nothing when the record
is unchanged.

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
from target_intercom.mapping import CompanyLink, ContactPlan
from target_intercom.pacing import pause
from target_intercom.settings import DeleteMode
from target_intercom.writers.absent import request_unless_absent
from target_intercom.writers.attributes import DataAttributes
from target_intercom.writers.cache import fingerprint
from target_intercom.writers.companies import CompanyWriter
from target_intercom.writers.lookup import ContactLookup

_CONFLICT_ID = re.compile(r"id=([A-Za-z0-9_-]+)")
# Waits before each new try of a create answered by a 409 that names no contact.
_CONFLICT_RETRY_WAITS = (0.5, 2.0)
# Waits before each search for a lead whose create got no answer: long enough for
# a search that lags seconds; a lead that takes longer to show is reported, not re-sent.
_LEAD_SEARCH_WAITS = (0.0, 1.0, 2.0, 4.0, 8.0)


class ContactWriter:
    def __init__(
        self,
        client: Client,
        attributes: DataAttributes,
        companies: CompanyWriter,
        lookup: ContactLookup,
        *,
        delete_mode: DeleteMode,
        stopping: threading.Event | None = None,
    ) -> None:
        self._stopping = stopping or threading.Event()
        self._client = client
        self._attributes = attributes
        self._companies = companies
        self._lookup = lookup
        self._delete_mode = delete_mode

    def write(self, plan: ContactPlan) -> str:
        """Applies one users record; returns its outcome for the run summary."""
        if plan.deleted:
            return self._remove(plan)
        custom = self._attributes.prepare("contact", plan.custom_attributes, plan.attribute_types)
        body = dict(plan.fields)
        if custom:
            body["custom_attributes"] = custom
        links = [
            (link.company_id, link.remove, link.company.payload() if link.company else None)
            for link in plan.companies
        ]
        print_ = fingerprint(body, plan.tags, links)
        known = self._lookup.known_id(plan.external_id, plan.email)
        if known is not None and self._lookup.holds(known, print_):
            return "unchanged"
        outcome, contact_id = self._upsert(body, known)
        for tag in plan.tags:
            self._client.request(
                "POST", "/tags", json_body={"name": tag, "users": [{"id": contact_id}]}
            )
        for link in plan.companies:
            self._link_company(contact_id, link)
        self._lookup.remember(plan.external_id, plan.email, contact_id, print_)
        return outcome

    def _upsert(self, body: dict[str, Any], known: str | None) -> tuple[str, str]:
        if known is not None:
            updated = request_unless_absent(
                self._client,
                "PUT",
                "/contacts/{contact_id}",
                path={"contact_id": known},
                json_body=_update_body(body),
            )
            if updated is not None:
                return "updated", known
            # Deleted or merged since we saw it: fall through to a create.
        if body.get("role") == "lead" and "external_id" not in body and body.get("email"):
            return self._upsert_lead(body, str(body["email"]))
        for wait in (*_CONFLICT_RETRY_WAITS, None):
            try:
                created = self._client.request("POST", "/contacts", json_body=body).body
                return "created", str(created["id"])
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
        self._update(contact_id, body)
        return "updated", contact_id

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

    def _upsert_lead(self, body: dict[str, Any], email: str) -> tuple[str, str]:
        """Find, else create once: a lead's create is never sent twice for one record."""
        found = self._lookup.find_lead(email)
        if found is None:
            try:
                created = self._client.request(
                    "POST", "/contacts", json_body=body, may_repeat=False
                ).body
                return "created", str(created["id"])
            except Unanswered as exc:
                made = self._await_lead(email)
                if made is None:
                    raise RecordError(
                        f"{exc.message}; search has not shown a lead with email {email!r} "
                        f"within {sum(_LEAD_SEARCH_WAITS):.0f}s, and the create was not sent "
                        "again so as not to make a second lead: load this record again "
                        "later (leads are looked up by email before they are created)",
                        "lead_unconfirmed",
                    ) from None
                return "created", made
        self._update(found, body)
        return "updated", found

    def _update(self, contact_id: str, body: dict[str, Any]) -> None:
        self._client.request(
            "PUT",
            "/contacts/{contact_id}",
            path={"contact_id": contact_id},
            json_body=_update_body(body),
        )

    def _await_lead(self, email: str) -> str | None:
        for wait in _LEAD_SEARCH_WAITS:
            pause(self._stopping, wait)
            found = self._lookup.find_lead(email)
            if found is not None:
                return found
        return None

    def _remove(self, plan: ContactPlan) -> str:
        if self._delete_mode == "ignore":
            return "delete_ignored"
        contact_id = self._lookup.known_id(plan.external_id, plan.email) or self._lookup.find(
            plan.external_id, plan.email, plan.fields.get("phone")
        )
        self._lookup.removed(plan.external_id, plan.email, contact_id)
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

    def _link_company(self, contact_id: str, link: CompanyLink) -> None:
        company_id = self._companies.ensure(link.company_id, link.company, create=not link.remove)
        if company_id is None:
            return
        if link.remove:
            request_unless_absent(
                self._client,
                "DELETE",
                "/contacts/{contact_id}/companies/{company_id}",
                path={"contact_id": contact_id, "company_id": company_id},
            )
            return
        self._companies.attach(contact_id, company_id)


def _update_body(body: dict[str, Any]) -> dict[str, Any]:
    """An update never sends role "lead": a contact that is a user stays one (Intercom
    does not turn users back into leads), and one that is a lead already is one."""
    if body.get("role") != "lead":
        return body
    return {k: v for k, v in body.items() if k != "role"}
