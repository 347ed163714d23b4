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

What this run learned sits in a bounded cache in front of the sync store, which keeps
it for the next run; both are written only after Intercom confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence

from target_intercom import keys
from target_intercom.client import Client
from target_intercom.errors import RecordError
from target_intercom.settings import LookupField
from target_intercom.syncstore import Known, SyncStore
from target_intercom.writers.absent import request_unless_absent
from target_intercom.writers.cache import IdCache

# Stands for "archived or deleted by this run" where a fingerprint is kept (a fingerprint
# of -1 is one chance in 2**64).
_REMOVED = -1
# Stands for "neither this run nor the store knows this contact".
_UNKNOWN = Known("", None)


def _identity(external_id: str | None, email: str | None) -> list[str]:
    if external_id is not None:
        return [keys.contact_by_external_id(external_id)]
    return [keys.contact_by_email(email)] if email is not None else []


class ContactLookup:
    def __init__(
        self,
        client: Client,
        lookup_fields: Sequence[LookupField],
        cache: IdCache,
        store: SyncStore,
    ) -> None:
        self._client = client
        self._lookup_fields = tuple(lookup_fields)
        # One bounded cache for both ids and fingerprints, so memory stays where it was.
        self._cache = cache
        self._store = store

    @property
    def lookup_fields(self) -> tuple[LookupField, ...]:
        return self._lookup_fields

    def known(self, external_id: str | None, email: str | None) -> Known | None:
        """What was last written to the contact the record names, by the identity rule:
        as this run last met it, else as the sync store kept it from an earlier run."""
        identity = _identity(external_id, email)
        if not identity:
            return None
        hit = self._cache.get(identity)
        if hit is _UNKNOWN:
            return None
        stored = None
        if hit is None:
            stored = self._store.contact(identity[0])
            if stored is None:
                # A new contact is asked about twice (is it unchanged? then, to write it):
                # the store is read once. `remember` and `removed` replace this.
                self._cache.put(identity, _UNKNOWN)
                return None
            hit = stored
        written = self._cache.get([keys.contact_written(hit.intercom_id)])
        if written is not None and written.fingerprint == _REMOVED:
            # Removed by a record that named it another way (by email, say): the next
            # write must meet Intercom's answer for an archived contact, not update blindly.
            return None
        if stored is not None:
            self._cache.put(identity, Known(stored.intercom_id, None))
            self._cache.put([keys.contact_written(stored.intercom_id)], stored)
            return stored
        return written or Known(hit.intercom_id, None)

    def known_id(self, external_id: str | None, email: str | None) -> str | None:
        """The contact's Intercom id as this run or an earlier one met it."""
        known = self.known(external_id, email)
        return None if known is None else known.intercom_id

    def remember(self, external_id: str | None, email: str | None, written: Known) -> None:
        """The contact's id, and what was just written to it (Intercom confirmed it)."""
        intercom_id = written.intercom_id
        identity = _identity(external_id, email)
        self._cache.put(identity, Known(intercom_id, None))
        self._cache.put([keys.contact_written(intercom_id)], written)
        if identity:
            self._store.put_contact(identity[0], written)
        if email is not None:
            holder = [keys.contact_holding_email(email)]
            held = self._cache.get(holder)
            # Two contacts written with one email: it names neither of them.
            shared = held is not None and held.intercom_id != intercom_id
            self._cache.put(holder, Known("" if shared else intercom_id, None))

    def removed(self, external_id: str | None, email: str | None, intercom_id: str | None) -> None:
        """The contact was archived or deleted: whatever key names it, it is not current."""
        self._cache.forget(_identity(external_id, email))
        for key in keys.contact(external_id, email):
            self._store.put_contact(key, None)
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
        data = self.holding(field, value)
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
        found = self.holding("email", email)
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

    def holding(self, field: str, value: str) -> list[dict]:
        """Every contact search shows with `field` equal to `value` (search lags behind
        creates, and leaves out archived and merged contacts)."""
        query = {"field": field, "operator": "=", "value": value}
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
        if held is not None:
            return held.intercom_id
        stored = self._store.contact(keys.contact_by_email(email))
        return None if stored is None else stored.intercom_id

    def user_id_of(self, external_id: str) -> str | None:
        """Intercom's id of the user with this external_id, from the run's cache or Intercom."""
        known = self.known_id(external_id, None)
        if known is not None:
            return known
        found = self.find(external_id, None) if "external_id" in self._lookup_fields else None
        if found is not None:
            self._cache.put(_identity(external_id, None), Known(found, None))
            self._store.put_contact(keys.contact_by_external_id(external_id), Known(found, None))
        return found
