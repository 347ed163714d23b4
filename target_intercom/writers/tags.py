"""Tags applied by this target, sent only when new, and (under mirror) taken off again.

A record's tags are compared with the ones this target applied to that contact or
company before (the sync store keeps them), so a re-sync sends only the new ones, and
mirror removes only tags this target made: a tag someone applied by hand is never in
that list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from target_intercom.client import Client
from target_intercom.writers.absent import request_unless_absent


class Tags:
    """Tag and untag calls, with the tag ids learned along the way."""

    def __init__(self, client: Client) -> None:
        self._client = client
        # Untagging a contact names the tag by Intercom's id: learned from any tag call.
        self._ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def apply_to_contact(
        self, contact_id: str, wanted: Sequence[str], applied: Sequence[str], *, mirror: bool
    ) -> tuple[tuple[str, ...], bool]:
        """Tags the contact with the wanted tags not applied before; under mirror, untags
        the ones applied before that are no longer wanted. Returns the tags now applied by
        this target, and whether any call was made."""
        return self._apply(
            wanted,
            applied,
            mirror,
            tag=lambda name: self._tag({"name": name, "users": [{"id": contact_id}]}),
            # A contact is untagged by the tag's id.
            untag=lambda name: request_unless_absent(
                self._client,
                "DELETE",
                "/contacts/{contact_id}/tags/{tag_id}",
                path={"contact_id": contact_id, "tag_id": self._id_of(name)},
            ),
        )

    def apply_to_company(
        self, company_id: str, wanted: Sequence[str], applied: Sequence[str], *, mirror: bool
    ) -> tuple[tuple[str, ...], bool]:
        """The same for a company (Intercom's id), which is untagged by name."""
        return self._apply(
            wanted,
            applied,
            mirror,
            tag=lambda name: self._tag({"name": name, "companies": [{"id": company_id}]}),
            untag=lambda name: self._tag(
                {"name": name, "companies": [{"id": company_id, "untag": True}]}
            ),
        )

    @staticmethod
    def _apply(
        wanted: Sequence[str],
        applied: Sequence[str],
        mirror: bool,
        *,
        tag: Callable[[str], object],
        untag: Callable[[str], object],
    ) -> tuple[tuple[str, ...], bool]:
        now, sent = set(applied), False
        for name in dict.fromkeys(wanted):
            if name not in now:
                tag(name)
                now.add(name)
                sent = True
        if mirror:
            for name in sorted(now - set(wanted)):
                untag(name)
                now.discard(name)
                sent = True
        return tuple(sorted(now)), sent

    def _tag(self, body: dict[str, Any]) -> str:
        answer = self._client.request("POST", "/tags", json_body=body).body or {}
        tag_id = str(answer.get("id") or "")
        if tag_id:
            with self._lock:
                self._ids[str(body["name"])] = tag_id
        return tag_id

    def _id_of(self, name: str) -> str:
        with self._lock:
            known = self._ids.get(name)
        # `POST /tags` with a name alone creates the tag or answers the existing one.
        return known or self._tag({"name": name})
