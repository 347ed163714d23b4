"""Data events: one `POST /events` per record.

Replays are harmless: Intercom ignores an event with the same contact, name and
created_at, which is why the mapping refuses to invent a created_at. An event whose
contact Intercom does not have waits for it (`ContactNotYet`): taps emit streams in
their own order, often events before users.
"""

from __future__ import annotations

from target_intercom import keys
from target_intercom.client import ApiError, Client
from target_intercom.errors import ContactNotYet
from target_intercom.mapping import EventPlan


class EventWriter:
    def __init__(self, client: Client) -> None:
        self._client = client

    def write(self, plan: EventPlan) -> str:
        try:
            self._client.request("POST", "/events", json_body=plan.payload)
        except ApiError as exc:
            # Not "already gone": an event for a contact that is not there is lost unless
            # the user hears about it.
            if exc.status == 404:
                who = plan.payload.get("user_id") or plan.payload.get("email")
                raise ContactNotYet(
                    f"event '{plan.payload.get('event_name')}' names contact {who!r}, which "
                    "is not in Intercom and did not come in the input's users stream",
                    keys.contact(plan.payload.get("user_id"), plan.payload.get("email")),
                ) from None
            raise
        return "sent"
