"""Companies: one create-or-update per record, their tags, and their members.

`POST /companies` is itself an upsert keyed by company_id, so a company costs one
call. Attaching a contact needs Intercom's own company id, which the upsert answers
with; the run remembers it, so a company named on many user records is upserted once
(and again only when a record changes it), while its users' attaches run side by side.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

from target_intercom import keys
from target_intercom.client import Client
from target_intercom.errors import ContactNotYet
from target_intercom.mapping import CompanyPlan
from target_intercom.writers.absent import request_unless_absent
from target_intercom.writers.attributes import DataAttributes
from target_intercom.writers.cache import IdCache, Known, fingerprint
from target_intercom.writers.lookup import ContactLookup

_LOCK_STRIPES = 64


class CompanyWriter:
    def __init__(
        self,
        client: Client,
        attributes: DataAttributes,
        contacts: ContactLookup,
        cache: IdCache,
    ) -> None:
        self._client = client
        self._attributes = attributes
        self._contacts = contacts
        self._cache = cache
        # Users of one company run side by side: a company's lock makes the first of them
        # upsert it and the others find it in the cache. Striped, so memory does not grow
        # with the number of companies.
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    def write(self, plan: CompanyPlan) -> str:
        """Applies one companies record: its members found first (a record whose members
        are not in Intercom yet waits for all of them before writing anything), then
        upsert, tags, attaches."""
        members = self._members(plan)
        outcome, company_id = self._upsert(plan)
        for tag in plan.tags:
            self._client.request(
                "POST", "/tags", json_body={"name": tag, "companies": [{"id": company_id}]}
            )
        for member in members:
            self.attach(member, company_id)
        return outcome

    def _members(self, plan: CompanyPlan) -> list[str]:
        """Intercom's ids of the contacts the record lists. Once one is missing, the rest
        are only looked for in what this run wrote, so that a record waiting for several
        contacts costs one look-up that fails, not one per contact."""
        contacts = self._contacts
        # (how the record names it, its contact key, a look-up, a look in this run's cache)
        wanted: list[tuple[str, str, Callable[[], str | None], Callable[[], str | None]]] = [
            (
                f"user_id {u!r}",
                keys.contact_by_external_id(u),
                functools.partial(contacts.user_id_of, u),
                functools.partial(contacts.known_id, u, None),
            )
            for u in plan.user_ids
        ]
        wanted += [
            (
                f"user email {e!r}",
                keys.contact_by_email(e),
                functools.partial(contacts.holder_of, e),
                functools.partial(contacts.written_holder, e),
            )
            for e in plan.user_emails
        ]
        found: list[str] = []
        missing: list[tuple[str, str]] = []
        for label, key, look_up, cached in wanted:
            member = (cached() if missing else look_up()) or None
            if member is None:
                missing.append((label, key))
            else:
                found.append(member)
        if missing:
            names = ", ".join(label for label, _ in missing)
            raise ContactNotYet(
                f"company {plan.company_id!r} lists {names}, not in Intercom, and no such "
                "contact came in the input's users stream",
                tuple(key for _, key in missing),
            )
        return found

    def attach(self, contact_id: str, company_id: str) -> None:
        """Attaches a contact to a company (Intercom's ids); idempotent in Intercom."""
        self._client.request(
            "POST",
            "/contacts/{contact_id}/companies",
            path={"contact_id": contact_id},
            json_body={"id": company_id},
        )

    def ensure(self, company_id: str, plan: CompanyPlan | None, *, create: bool) -> str | None:
        """Intercom's id of a company named on a user record; upserts it when it has fields.

        A bare company (an id and nothing else) is looked up, and created only when the
        contact is to be attached to it: detaching from a company that does not exist is
        already done.
        """
        if plan is not None:
            return self._upsert(plan)[1]
        key = keys.company(company_id)
        with self._lock_of(company_id):
            known = self._cache.get([key])
            if known is not None:
                return known.intercom_id
            found = request_unless_absent(
                self._client, "GET", "/companies", params={"company_id": company_id}
            )
            if found is None and not create:
                return None
            if found is None:
                found = self._client.request(
                    "POST", "/companies", json_body={"company_id": company_id}
                )
            intercom_id = str(found.body["id"])
            self._cache.put([key], Known(intercom_id, 0))
            return intercom_id

    def _upsert(self, plan: CompanyPlan) -> tuple[str, str]:
        key = keys.company(plan.company_id)
        custom = self._attributes.prepare("company", plan.custom_attributes, plan.attribute_types)
        body = dict(plan.fields)
        if custom:
            body["custom_attributes"] = custom
        print_ = fingerprint(body)
        with self._lock_of(plan.company_id):
            known = self._cache.get([key])
            if known is not None and known.fingerprint == print_:
                return "unchanged", known.intercom_id
            company = self._client.request("POST", "/companies", json_body=body).body
            intercom_id = str(company["id"])
            self._cache.put([key], Known(intercom_id, print_))
            return ("updated" if known is not None else "upserted"), intercom_id

    def _lock_of(self, company_id: str) -> threading.Lock:
        return self._locks[hash(company_id) % _LOCK_STRIPES]
