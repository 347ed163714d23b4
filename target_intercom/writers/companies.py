"""Companies: one create-or-update per record, their tags, and their members.

`POST /companies` is itself an upsert keyed by company_id, so a company costs one
call. Attaching a contact needs Intercom's own company id, which the upsert answers
with; the run remembers it, so companies named on many user records are looked up once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from target_intercom.client import ApiError, IntercomClient
from target_intercom.errors import RecordError
from target_intercom.mapping import CompanyPlan, RecordSchema
from target_intercom.writers.attributes import DataAttributes
from target_intercom.writers.cache import IdCache, Known, fingerprint

logger = logging.getLogger("target-intercom")


class CompanyWriter:
    def __init__(
        self,
        client: IntercomClient,
        attributes: DataAttributes,
        cache: IdCache,
        *,
        dry_run: bool,
    ) -> None:
        self._client = client
        self._attributes = attributes
        self._cache = cache
        self._dry_run = dry_run

    def write(
        self,
        plan: CompanyPlan,
        schema: RecordSchema,
        contact_id: Callable[[str], str | None],
    ) -> str:
        """Applies one companies record: upsert, tags, then attach its user_ids."""
        if self._dry_run:
            logger.info("Dry run: would upsert company %s", json.dumps(plan.payload(), default=str))
            return "would_write"
        outcome, company_id = self._upsert(plan, schema)
        for tag in plan.tags:
            self._client.request(
                "POST", "/tags", json_body={"name": tag, "companies": [{"id": company_id}]}
            )
        for user_id in plan.user_ids:
            member = contact_id(user_id)
            if member is None:
                raise RecordError(
                    f"company {plan.company_id!r} lists user_id {user_id!r}, but no Intercom "
                    "user has that external_id; load the users stream first",
                    "contact_not_found",
                )
            self._client.request(
                "POST",
                "/contacts/{contact_id}/companies",
                path={"contact_id": member},
                json_body={"id": company_id},
            )
        return outcome

    def ensure(
        self, company_id: str, plan: CompanyPlan | None, schema: RecordSchema, *, create: bool
    ) -> str | None:
        """Intercom's id of a company named on a user record; upserts it when it has fields."""
        if plan is not None:
            return self._upsert(plan, schema)[1]
        known = self._cache.get([f"company:{company_id}"])
        if known is not None:
            return known.intercom_id
        try:
            found = self._client.request(
                "GET", "/companies", params={"company_id": company_id}
            ).body
        except ApiError as exc:
            if exc.status != 404:
                raise
            if not create:
                return None
            found = self._client.request(
                "POST", "/companies", json_body={"company_id": company_id}
            ).body
        self._cache.put([f"company:{company_id}"], Known(found["id"], 0))
        return found["id"]

    def _upsert(self, plan: CompanyPlan, schema: RecordSchema) -> tuple[str, str]:
        key = f"company:{plan.company_id}"
        custom = self._attributes.prepare("company", plan.custom_attributes, schema.data_type)
        body = dict(plan.fields)
        if custom:
            body["custom_attributes"] = custom
        print_ = fingerprint(body)
        known = self._cache.get([key])
        if known is not None and known.fingerprint == print_:
            return "unchanged", known.intercom_id
        company = self._client.request("POST", "/companies", json_body=body).body
        self._cache.put([key], Known(company["id"], print_))
        return ("updated" if known is not None else "upserted"), company["id"]
