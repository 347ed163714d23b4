"""Upserting one contact with as few calls as Intercom allows, never creating a duplicate.

Create first: a new contact costs one `POST /contacts`. Intercom answers 409 when the
contact exists and names its id ("... already exists with id=X"), so an existing one
costs a second call (`PUT`), an archived one a third (`unarchive`). Search is not used
to decide create-or-update, because it lags minutes behind creates. Contacts seen
earlier in the run are remembered, so they cost one `PUT`, or nothing when the record
is unchanged.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from target_intercom.client import ApiError, IntercomClient
from target_intercom.errors import RecordError
from target_intercom.mapping import CompanyLink, ContactPlan, RecordSchema
from target_intercom.writers.attributes import DataAttributes
from target_intercom.writers.cache import IdCache, Known, fingerprint
from target_intercom.writers.companies import CompanyWriter

logger = logging.getLogger("target-intercom")

_CONFLICT_ID = re.compile(r"id=([A-Za-z0-9_-]+)")


class ContactWriter:
    def __init__(
        self,
        client: IntercomClient,
        attributes: DataAttributes,
        companies: CompanyWriter,
        cache: IdCache,
        *,
        lookup_fields: tuple[str, ...],
        delete_mode: str,
        dry_run: bool,
    ) -> None:
        self._client = client
        self._attributes = attributes
        self._companies = companies
        self._cache = cache
        self._lookup_fields = lookup_fields
        self._delete_mode = delete_mode
        self._dry_run = dry_run

    def write(self, plan: ContactPlan, schema: RecordSchema) -> str:
        """Applies one users record; returns its outcome for the run summary."""
        if plan.deleted:
            return self._remove(plan)
        custom = self._attributes.prepare("contact", plan.custom_attributes, schema.data_type)
        body = dict(plan.fields)
        if custom:
            body["custom_attributes"] = custom
        links = [
            (link.company_id, link.remove, link.company.payload() if link.company else None)
            for link in plan.companies
        ]
        print_ = fingerprint(body, plan.tags, links)
        if self._dry_run:
            logger.info("Dry run: would upsert contact %s", json.dumps(body, default=str))
            return "would_write"
        keys = plan.identities()
        known = self._cache.get(keys)
        if known is not None and known.fingerprint == print_:
            return "unchanged"
        outcome, contact_id = self._upsert(body, known)
        for tag in plan.tags:
            self._client.request(
                "POST", "/tags", json_body={"name": tag, "users": [{"id": contact_id}]}
            )
        for link in plan.companies:
            self._link_company(contact_id, link, schema)
        self._cache.put(keys, Known(contact_id, print_))
        return outcome

    def _upsert(self, body: dict[str, Any], known: Known | None) -> tuple[str, str]:
        if known is not None:
            try:
                self._put(known.intercom_id, body)
                return "updated", known.intercom_id
            except ApiError as exc:
                if exc.status != 404:
                    raise
                # Deleted or merged since we saw it: fall through to a create.
        try:
            created = self._client.request("POST", "/contacts", json_body=body).body
            return "created", created["id"]
        except ApiError as exc:
            if exc.status != 409:
                raise
            contact_id = self._conflicting_id(exc, body)
            archived = "archived" in exc.intercom_message.lower()
        if archived:
            self._client.request(
                "POST", "/contacts/{contact_id}/unarchive", path={"contact_id": contact_id}
            )
        self._put(contact_id, body)
        return "updated", contact_id

    def _put(self, contact_id: str, body: dict[str, Any]) -> None:
        self._client.request(
            "PUT", "/contacts/{contact_id}", path={"contact_id": contact_id}, json_body=body
        )

    def _conflicting_id(self, exc: ApiError, body: dict[str, Any]) -> str:
        match = _CONFLICT_ID.search(exc.intercom_message)
        if match:
            return match.group(1)
        # A 409 that names no contact (reported in the wild): look it up instead.
        found = self.find(body.get("external_id"), body.get("email"))
        if found is None:
            raise RecordError(
                "Intercom reported a conflicting contact but named none, and none was found "
                f"by {', '.join(self._lookup_fields)} (search lags behind creates; retry later)",
                "conflict",
            ) from None
        return found

    def find(self, external_id: str | None, email: str | None) -> str | None:
        """An existing contact's id by lookup_fields, in order; None when not found."""
        for field in self._lookup_fields:
            if field == "external_id" and external_id:
                try:
                    found = self._client.request(
                        "GET",
                        "/contacts/find_by_external_id/{external_id}",
                        path={"external_id": external_id},
                    ).body
                    return found["id"]
                except ApiError as exc:
                    if exc.status != 404:
                        raise
            if field == "email" and email:
                hits = self._client.request(
                    "POST",
                    "/contacts/search",
                    json_body={"query": {"field": "email", "operator": "=", "value": email}},
                ).body
                data = (hits or {}).get("data") or []
                if data:
                    return min(data, key=lambda c: c.get("created_at") or 0)["id"]
        return None

    def contact_id(self, external_id: str) -> str | None:
        """Intercom's id of the user with this external_id, from the run's cache or Intercom."""
        key = f"contact:external_id:{external_id}"
        known = self._cache.get([key])
        if known is not None:
            return known.intercom_id
        found = self.find(external_id, None) if "external_id" in self._lookup_fields else None
        if found is not None:
            self._cache.put([key], Known(found, 0))
        return found

    def _remove(self, plan: ContactPlan) -> str:
        if self._delete_mode == "ignore":
            return "delete_ignored"
        if self._dry_run:
            logger.info("Dry run: would %s contact %s", self._delete_mode, plan.identities())
            return "would_write"
        keys = plan.identities()
        known = self._cache.get(keys)
        contact_id = known.intercom_id if known else self.find(plan.external_id, plan.email)
        self._cache.forget(keys)
        if contact_id is None:
            return "already_absent"
        try:
            if self._delete_mode == "delete":
                self._client.request(
                    "DELETE", "/contacts/{contact_id}", path={"contact_id": contact_id}
                )
                return "deleted"
            self._client.request(
                "POST", "/contacts/{contact_id}/archive", path={"contact_id": contact_id}
            )
            return "archived"
        except ApiError as exc:
            if exc.status == 404:
                return "already_absent"
            raise

    def _link_company(self, contact_id: str, link: CompanyLink, schema: RecordSchema) -> None:
        company_schema = schema.child("company")
        if not company_schema.types:
            company_schema = schema.child("companies")
        company_id = self._companies.ensure(
            link.company_id, link.company, company_schema, create=not link.remove
        )
        if company_id is None:
            return
        if link.remove:
            try:
                self._client.request(
                    "DELETE",
                    "/contacts/{contact_id}/companies/{company_id}",
                    path={"contact_id": contact_id, "company_id": company_id},
                )
            except ApiError as exc:
                if exc.status != 404:
                    raise
            return
        self._client.request(
            "POST",
            "/contacts/{contact_id}/companies",
            path={"contact_id": contact_id},
            json_body={"id": company_id},
        )
