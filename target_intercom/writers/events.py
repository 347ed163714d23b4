"""Data events: one `POST /events` per record.

Replays are harmless: Intercom ignores an event with the same contact, name and
created_at, which is why the mapping refuses to invent a created_at.
"""

from __future__ import annotations

import json
import logging

from target_intercom.client import ApiError, IntercomClient
from target_intercom.errors import RecordError
from target_intercom.mapping import EventPlan

logger = logging.getLogger("target-intercom")


class EventWriter:
    def __init__(self, client: IntercomClient, *, dry_run: bool) -> None:
        self._client = client
        self._dry_run = dry_run

    def write(self, plan: EventPlan) -> str:
        if self._dry_run:
            logger.info("Dry run: would send event %s", json.dumps(plan.payload, default=str))
            return "would_write"
        try:
            self._client.request("POST", "/events", json_body=plan.payload)
        except ApiError as exc:
            if exc.status == 404:
                who = plan.payload.get("user_id") or plan.payload.get("email")
                raise RecordError(
                    f"event '{plan.payload.get('event_name')}' names contact {who!r}, which "
                    "does not exist in Intercom; load it in the users stream first",
                    exc.code,
                ) from None
            raise
        return "sent"
