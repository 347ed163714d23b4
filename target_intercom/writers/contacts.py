"""Upserting one contact with as few calls as Intercom allows, never creating a duplicate.

Create first: a new contact costs one `POST /contacts`. Intercom answers 409 when the
contact exists and names its id ("... already exists with id=X"), so an existing one
costs a second call (`PUT`), an archived one a third (`unarchive`). Search is not used
to decide create-or-update, because it lags minutes behind creates. Contacts seen
earlier in the run are remembered, so they cost one `PUT`, or nothing when the record
is unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from target_intercom.client import ApiError, Client
from target_intercom.errors import RecordError
from target_intercom.mapping import CompanyLink, ContactPlan
from target_intercom.settings import DeleteMode
from target_intercom.writers.absent import request_unless_absent
from target_intercom.writers.attributes import DataAttributes
from target_intercom.writers.cache import fingerprint
from target_intercom.writers.companies import CompanyWriter
from target_intercom.writers.lookup import ContactLookup

_CONFLICT_ID = re.compile(r"id=([A-Za-z0-9_-]+)")


class ContactWriter:
    def __init__(
        self,
        client: Client,
        attributes: DataAttributes,
        companies: CompanyWriter,
        lookup: ContactLookup,
        *,
        delete_mode: DeleteMode,
    ) -> None:
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
                json_body=body,
            )
            if updated is not None:
                return "updated", known
            # Deleted or merged since we saw it: fall through to a create.
        try:
            created = self._client.request("POST", "/contacts", json_body=body).body
            return "created", str(created["id"])
        except ApiError as exc:
            if exc.status != 409:
                raise
            contact_id = self._conflicting_id(exc, body)
            archived = "archived" in exc.intercom_message.lower()
        if archived:
            self._client.request(
                "POST", "/contacts/{contact_id}/unarchive", path={"contact_id": contact_id}
            )
        self._client.request(
            "PUT", "/contacts/{contact_id}", path={"contact_id": contact_id}, json_body=body
        )
        return "updated", contact_id

    def _conflicting_id(self, exc: ApiError, body: dict[str, Any]) -> str:
        match = _CONFLICT_ID.search(exc.intercom_message)
        if match:
            return match.group(1)
        # A 409 that names no contact (reported in the wild): look it up instead.
        found = self._lookup.find(body.get("external_id"), body.get("email"))
        if found is None:
            raise RecordError(
                "Intercom reported a conflicting contact but named none, and none was found "
                f"by {', '.join(self._lookup.lookup_fields)} (search lags behind creates; "
                "retry later)",
                "conflict",
            ) from None
        return found

    def _remove(self, plan: ContactPlan) -> str:
        if self._delete_mode == "ignore":
            return "delete_ignored"
        contact_id = self._lookup.known_id(plan.external_id, plan.email) or self._lookup.find(
            plan.external_id, plan.email
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
        self._client.request(
            "POST",
            "/contacts/{contact_id}/companies",
            path={"contact_id": contact_id},
            json_body={"id": company_id},
        )
