"""Data events: one `POST /events` per event Intercom does not have from this target yet.

Replays are harmless: Intercom ignores an event with the same contact, name and
created_at, which is why the mapping refuses to invent a created_at. They still cost a call
each, and a full-table events stream re-sent daily would cost a call per row per run, so
the sync store remembers, as an 8-byte digest, each event Intercom accepted: an event met
again costs no call ("already_sent"). The digest is of Intercom's own identity of an event
(its contact, name and created_at), not of its metadata: a row whose metadata changed but
not its identity is a duplicate to Intercom, which would drop it, so it is not sent either.
A digest is recorded only once Intercom answered 202, so a kill costs at most a re-send
(which Intercom drops), never a lost event. `full_resync` sends every event again.

With event_memory_days the store forgets events older than that many days, once a run,
and an input event that old is taken as delivered long ago: not sent, counted
"past_event_memory", and told in one warning line at the end of the run.

An event whose contact Intercom does not have waits for it (`ContactNotYet`): taps emit
streams in their own order, often events before users. An event that names its contact by
Intercom id (`id`) does not wait: no input can make that id exist, so a 404 is a record
error at once; a contact merged into another (410) gets it sent to the one Intercom kept.
"""

from __future__ import annotations

import time
from typing import Any

from target_intercom import keys
from target_intercom.client import ApiError, Client
from target_intercom.errors import ContactNotYet, RecordError
from target_intercom.mapping import EventPlan
from target_intercom.metrics import ALREADY_SENT, PAST_EVENT_MEMORY
from target_intercom.syncstore import SyncStore
from target_intercom.writers.absent import merged_into
from target_intercom.writers.known import KnownContacts, fingerprint
from target_intercom.writers.lookup import ContactLookup

SECONDS_A_DAY = 86_400


def event_digest(payload: dict[str, Any]) -> int:
    """Intercom's identity of an event, in 8 bytes: its contact as the record names it
    (user_id, else email in lower case, else an Intercom id; never the id this run
    resolved, so that it is the same in every run), its name in lower case (Intercom's
    names are case-insensitive), and created_at."""
    if payload.get("user_id") is not None:
        contact = ("user_id", str(payload["user_id"]))
    elif payload.get("email"):
        contact = ("email", str(payload["email"]).lower())
    else:
        contact = ("id", str(payload.get("id")))
    name = str(payload["event_name"]).lower()
    return fingerprint("event", *contact, name, payload["created_at"])


class EventWriter:
    """Events: sent by the contact's external_id or email, or its id when only the run knows
    it; each once, as the sync store remembers them."""

    def __init__(
        self,
        client: Client,
        known: KnownContacts,
        lookup: ContactLookup,
        store: SyncStore,
        *,
        full_resync: bool = False,
        memory_days: int | None = None,
    ) -> None:
        self._client = client
        self._known = known
        self._lookup = lookup
        self._store = store
        self._full_resync = full_resync
        # Events that happened before this (Unix seconds) are forgotten by the store, and
        # taken as delivered; one time for the whole run, so that both agree.
        self._horizon = (
            None if memory_days is None else int(time.time()) - memory_days * SECONDS_A_DAY
        )

    def open(self) -> None:
        """At the start of a run: the store forgets the events past its memory."""
        if self._horizon is not None:
            self._store.forget_events_before(self._horizon)

    def write(self, plan: EventPlan) -> str:
        """Sends the event unless it was delivered (see `settled`); one whose contact
        Intercom lacks waits for it (ContactNotYet). Recorded once Intercom accepted it."""
        known = self.settled(plan)
        if known is not None:
            return known
        self._send(plan.payload)
        self._store.put_event(event_digest(plan.payload), int(plan.payload["created_at"]))
        return "sent"

    def settled(self, plan: EventPlan) -> str | None:
        """ "already_sent" when the store remembers the event, "past_event_memory" when it
        happened before the store's memory; None (send it) under full_resync, which sends
        every event again."""
        if self._full_resync:
            return None
        if self._horizon is not None and int(plan.payload["created_at"]) < self._horizon:
            return PAST_EVENT_MEMORY
        return ALREADY_SENT if self._store.event_delivered(event_digest(plan.payload)) else None

    def _send(self, payload: dict[str, Any]) -> None:
        if "id" in payload:
            self._send_by_intercom_id(payload)
            return
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

    def _send_by_intercom_id(self, payload: dict[str, Any]) -> None:
        """An event the record names by Intercom id. That contact exists or never will
        (no input can bring an id into being), so a 404 is a record error at once; one
        merged into another (410) has its event sent to the contact Intercom kept, where
        its earlier events went."""
        try:
            self._client.request("POST", "/events", json_body=payload)
        except ApiError as exc:
            kept = merged_into(exc)
            if kept is not None:
                self._client.request("POST", "/events", json_body={**payload, "id": kept})
                return
            if exc.status not in (404, 410):
                raise
            raise RecordError(
                f"event '{payload.get('event_name')}' names Intercom contact id "
                f"{payload['id']!r}, which Intercom does not have ({exc.status}): check "
                "the id, or name the contact by its external id or email",
                "contact_not_found",
            ) from None

    @staticmethod
    def _by_id(payload: dict[str, Any], contact_id: str | None) -> dict[str, Any]:
        if not contact_id:
            return payload
        body = {k: v for k, v in payload.items() if k != "email"}
        body["id"] = contact_id
        return body
