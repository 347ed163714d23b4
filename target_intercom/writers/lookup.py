"""Finding contacts that Intercom does not name for us, and remembering what was found.

Both writers need a contact's Intercom id: the contact writer to update or delete it,
the company writer to attach the users a companies record lists. One lookup, built once
per run and given to both, applies one identity rule everywhere:

- A record with an external_id is that contact and no other. It is remembered and
  found by its external_id only; a contact found by email that carries another
  external_id is someone else (two people may share `support@`), never a match.
- A record with only an email is remembered and found by its email. When several
  contacts in Intercom hold that email, it names none of them: the record is refused
  rather than merged into one picked at random.
- A lead known only by email is looked up before it is created, since Intercom never
  answers 409 for a lead (several leads may share an email).
- What was last written is remembered per Intercom contact, whatever key the record
  came by, so "unchanged, skip it" compares with what that very contact holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from target_intercom import keys
from target_intercom.client import Client
from target_intercom.errors import RecordError
from target_intercom.settings import LookupField
from target_intercom.writers.absent import request_unless_absent
from target_intercom.writers.cache import IdCache, Known

# Stands for "archived or deleted by this run" where a fingerprint is kept: Python's hash()
# never returns -1, so no fingerprint can equal it.
_REMOVED = -1


def _identity(external_id: str | None, email: str | None) -> list[str]:
    if external_id is not None:
        return [keys.contact_by_external_id(external_id)]
    return [keys.contact_by_email(email)] if email is not None else []


class ContactLookup:
    def __init__(
        self, client: Client, lookup_fields: Sequence[LookupField], cache: IdCache
    ) -> None:
        self._client = client
        self._lookup_fields = tuple(lookup_fields)
        # One bounded cache for both ids and fingerprints, so memory stays where it was.
        self._cache = cache

    @property
    def lookup_fields(self) -> tuple[LookupField, ...]:
        return self._lookup_fields

    def known_id(self, external_id: str | None, email: str | None) -> str | None:
        """The contact's Intercom id as this run last met it, by the identity rule."""
        known = self._cache.get(_identity(external_id, email))
        if known is None:
            return None
        written = self._cache.get([keys.contact_written(known.intercom_id)])
        if written is not None and written.fingerprint == _REMOVED:
            # Removed by a record that named it another way (by email, say): the next
            # write must meet Intercom's answer for an archived contact, not update blindly.
            return None
        return known.intercom_id

    def remember(
        self, external_id: str | None, email: str | None, intercom_id: str, written: int
    ) -> None:
        """The contact's id, and the fingerprint of what was just written to it."""
        self._cache.put(_identity(external_id, email), Known(intercom_id, 0))
        self._cache.put([keys.contact_written(intercom_id)], Known(intercom_id, written))
        if email is not None:
            holder = [keys.contact_holding_email(email)]
            held = self._cache.get(holder)
            # Two contacts written with one email: it names neither of them.
            shared = held is not None and held.intercom_id != intercom_id
            self._cache.put(holder, Known("" if shared else intercom_id, 0))

    def holds(self, intercom_id: str, fingerprint: int) -> bool:
        """Whether what this run last wrote to that contact had this fingerprint."""
        known = self._cache.get([keys.contact_written(intercom_id)])
        return known is not None and known.fingerprint == fingerprint

    def removed(self, external_id: str | None, email: str | None, intercom_id: str | None) -> None:
        """The contact was archived or deleted: whatever key names it, it is not current."""
        self._cache.forget(_identity(external_id, email))
        if intercom_id is not None:
            self._cache.put([keys.contact_written(intercom_id)], Known(intercom_id, _REMOVED))

    def find(
        self, external_id: str | None, email: str | None, phone: str | None = None
    ) -> str | None:
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
                by_email = self._one_holding("email", email, external_id)
                if by_email is not None:
                    return by_email
            if field == "phone" and phone:
                by_phone = self._one_holding("phone", phone, external_id)
                if by_phone is not None:
                    return by_phone
        return None

    def _one_holding(self, field: str, value: str, external_id: str | None) -> str | None:
        """The one contact whose `field` is `value`, and whose external_id is none or the
        record's: one held by several contacts names none of them."""
        data = self._search({"field": field, "operator": "=", "value": value})
        if external_id is not None:
            data = [c for c in data if c.get("external_id") in (None, external_id)]
        if len(data) > 1:
            raise RecordError(
                f"{len(data)} contacts in Intercom hold the {field} {value!r} and the record "
                "names none of them by external_id; it was not applied to any (give the "
                "record an external_id)",
                f"ambiguous_{field}",
            )
        return str(data[0]["id"]) if data else None

    def find_lead(self, email: str) -> str | None:
        """The contact a lead record with this email is: the user with it, when one has
        it (a lead that became a user stays a user), else the oldest lead with it."""
        found = self._search({"field": "email", "operator": "=", "value": email})
        users = [c for c in found if c.get("role") == "user"]
        if len(users) > 1:
            raise RecordError(
                f"{len(users)} users in Intercom hold the email {email!r}; a lead record "
                "with it names none of them",
                "ambiguous_email",
            )
        leads = sorted(
            (c for c in found if c.get("role") == "lead"), key=lambda c: c.get("created_at") or 0
        )
        chosen = users or leads
        return str(chosen[0]["id"]) if chosen else None

    def _search(self, query: dict[str, object]) -> list[dict]:
        hits = self._client.request("POST", "/contacts/search", json_body={"query": query}).body
        return list((hits or {}).get("data") or [])

    def holder_of(self, email: str) -> str | None:
        """Intercom's id of the one contact with this email, from what this run wrote, else
        from a search (which lags behind creates); None when there is none."""
        written = self.written_holder(email)
        if written:
            return written
        if written is not None:
            raise RecordError(
                f"several contacts this run wrote hold the email {email!r}; it names none "
                "of them (list the users by user_ids)",
                "ambiguous_email",
            )
        return self.find(None, email) if "email" in self._lookup_fields else None

    def written_holder(self, email: str) -> str | None:
        """The id of the contact this run wrote this email to; "" when it wrote it to
        several; None when to none."""
        held = self._cache.get([keys.contact_holding_email(email)])
        return None if held is None else held.intercom_id

    def user_id_of(self, external_id: str) -> str | None:
        """Intercom's id of the user with this external_id, from the run's cache or Intercom."""
        known = self.known_id(external_id, None)
        if known is not None:
            return known
        found = self.find(external_id, None) if "external_id" in self._lookup_fields else None
        if found is not None:
            self._cache.put(_identity(external_id, None), Known(found, 0))
        return found
