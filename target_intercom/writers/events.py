"""Data events: one `POST /events` per record.

Replays are harmless: Intercom ignores an event with the same contact, name and
created_at, which is why the mapping refuses to invent a created_at. An event whose
contact Intercom does not have waits for it (`ContactNotYet`): taps emit streams in
their own order, often events before users.
"""

from __future__ import annotations

from typing import Any

from target_intercom import keys
from target_intercom.client import ApiError, Client
from target_intercom.errors import ContactNotYet
from target_intercom.mapping import EventPlan
from target_intercom.writers.known import KnownContacts
from target_intercom.writers.lookup import ContactLookup


class EventWriter:
    """Events: sent by the contact's external_id or email, or its id when only the run knows it."""

    def __init__(self, client: Client, known: KnownContacts, lookup: ContactLookup) -> None:
        self._client = client
        self._known = known
        self._lookup = lookup

    def write(self, plan: EventPlan) -> str:
        """Sends the event; one whose contact Intercom lacks waits for it (ContactNotYet)."""
        payload = plan.payload
        email = payload.get("email")
        by_email_only = bool(email) and "user_id" not in payload and "id" not in payload
        if by_email_only:
            # Intercom finds only users by email; a lead only by its Intercom id, which
            # this run knows when it wrote that contact.
            payload = self._by_id(payload, self._known.holder_of(str(email)))
        try:
            self._client.request("POST", "/events", json_body=payload)
        except ApiError as exc:
            # Not "already gone": an event for a contact that is not there is lost unless
            # the user hears about it.
            if exc.status != 404:
                raise
            lead = self._lookup.find_lead(str(email)) if by_email_only else None
            if lead is None:
                who = payload.get("user_id") or email or payload.get("id")
                raise ContactNotYet(
                    f"event '{payload.get('event_name')}' names contact {who!r}, which "
                    "is not in Intercom and did not come in the input's users stream",
                    keys.contact(payload.get("user_id"), email),
                ) from None
            self._client.request("POST", "/events", json_body=self._by_id(payload, lead))
        return "sent"

    def settled(self, plan: EventPlan) -> str | None:
        """Never settled without a call: an event is sent each time it is met."""
        return None

    @staticmethod
    def _by_id(payload: dict[str, Any], contact_id: str | None) -> dict[str, Any]:
        if not contact_id:
            return payload
        body = {k: v for k, v in payload.items() if k != "email"}
        body["id"] = contact_id
        return body
