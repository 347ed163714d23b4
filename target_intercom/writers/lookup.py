"""Finding contacts that Intercom does not name for us, and remembering what was found.

Both writers need a contact's Intercom id: the contact writer to update or delete it,
the company writer to attach the users a companies record lists. One lookup, built once
per run and given to both, keeps one cache and one order of `lookup_fields`, so the two
never disagree about who a contact is.
"""

from __future__ import annotations

from collections.abc import Sequence

from target_intercom import keys
from target_intercom.client import Client
from target_intercom.settings import LookupField
from target_intercom.writers.absent import request_unless_absent
from target_intercom.writers.cache import IdCache, Known


class ContactLookup:
    def __init__(
        self, client: Client, lookup_fields: Sequence[LookupField], cache: IdCache
    ) -> None:
        self._client = client
        self._lookup_fields = tuple(lookup_fields)
        self.cache = cache

    @property
    def lookup_fields(self) -> tuple[LookupField, ...]:
        return self._lookup_fields

    def find(self, external_id: str | None, email: str | None) -> str | None:
        """An existing contact's id by lookup_fields, in order; None when not found."""
        for field in self._lookup_fields:
            if field == "external_id" and external_id:
                found = request_unless_absent(
                    self._client,
                    "GET",
                    "/contacts/find_by_external_id/{external_id}",
                    path={"external_id": external_id},
                )
                if found is not None:
                    return str(found.body["id"])
            if field == "email" and email:
                hits = self._client.request(
                    "POST",
                    "/contacts/search",
                    json_body={"query": {"field": "email", "operator": "=", "value": email}},
                ).body
                data = (hits or {}).get("data") or []
                if data:
                    return str(min(data, key=lambda c: c.get("created_at") or 0)["id"])
        return None

    def user_id_of(self, external_id: str) -> str | None:
        """Intercom's id of the user with this external_id, from the run's cache or Intercom."""
        key = keys.contact_by_external_id(external_id)
        known = self.cache.get([key])
        if known is not None:
            return known.intercom_id
        found = self.find(external_id, None) if "external_id" in self._lookup_fields else None
        if found is not None:
            self.cache.put([key], Known(found, 0))
        return found
