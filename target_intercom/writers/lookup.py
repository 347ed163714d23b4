"""Finding contacts in Intercom by search, for the records whose contact it does not name.

Both writers need a contact's Intercom id that no answer gave them: the contact writer to
update or delete a contact under update_only, the company writer to attach the users a
companies record lists, the event writer to find a lead. One lookup applies one identity
rule to every search:

- A record with an external_id is that contact and no other: a contact found by email
  that carries another external_id is someone else (two people may share `support@`),
  never a match.
- When several contacts in Intercom hold an email (or phone), it names none of them: the
  record is refused rather than merged into one picked at random.
- A lead known only by email is looked up before it is created, since Intercom never
  answers 409 for a lead (several leads may share an email).
- With phone in lookup_fields, a contact the target does not know is looked up by its
  phone before it is created, and a group call's user by its phone (`one_by_phone`).

What was found is remembered by the caller, in `known.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from target_intercom.client import Client
from target_intercom.errors import RecordError
from target_intercom.settings import LookupField
from target_intercom.writers.absent import request_unless_absent


class ContactLookup:
    """Intercom searches for a contact, by the lookup_fields setting, in its order."""

    def __init__(self, client: Client, lookup_fields: Sequence[LookupField]) -> None:
        self._client = client
        self._lookup_fields = tuple(lookup_fields)

    @property
    def lookup_fields(self) -> tuple[LookupField, ...]:
        """The fields contacts are searched by, in order (the lookup_fields setting)."""
        return self._lookup_fields

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
                    needs=("id",),
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

    def one_by_phone(self, phone: str, external_id: str | None, *, claiming: bool) -> str | None:
        """The one contact with this phone, by one search: RudderStack's lookup by a custom
        field, for a contact this target does not know. `claiming`: the record's
        external_id is to be given to it, so one holding another is someone else. Several
        name none of them: a record error lists them."""
        data = self.holding("phone", phone)
        if claiming:
            data = [c for c in data if c.get("external_id") in (None, external_id)]
        if len(data) > 1:
            ids = ", ".join(sorted(str(c["id"]) for c in data))
            raise RecordError(
                f"{len(data)} contacts in Intercom ({ids}) hold the phone {phone!r}, which "
                "lookup_fields lists: the record was applied to none of them (merge them "
                "in Intercom, or take phone out of lookup_fields)",
                "ambiguous_phone",
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

    def holding(self, field: str, value: str) -> list[dict[str, Any]]:
        """Every contact search shows with `field` equal to `value` (search lags behind
        creates, and leaves out archived and merged contacts)."""
        query = {"field": field, "operator": "=", "value": value}
        hits = self._client.request("POST", "/contacts/search", json_body={"query": query}).body
        return list((hits or {}).get("data") or [])
