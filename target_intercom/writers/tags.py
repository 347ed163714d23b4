"""Tags applied by this target, sent only when new, and (under mirror) taken off again.

A record's tags are compared with the ones this target applied to that contact or
company before (the sync store keeps them), so a re-sync sends only the new ones, and
mirror removes only tags this target made: a tag someone applied by hand is never in
that list. Under mirror, a tag is the target's only when Intercom shows it was not there
before: the contact's or company's tags are read before new ones are applied, and one
already there is left as someone else's (applying it again would change nothing in
Intercom, and removing it later would take away what they made). Each call is recorded
as Intercom confirms it, so a record that fails half-way leaves a true list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from target_intercom.client import Client
from target_intercom.writers.absent import request_unless_absent


@dataclass(frozen=True)
class Applying:
    """How a record's tags (or companies) are applied: under mirror, also taken off;
    `again` (full_resync) sends the wanted ones even if applied before; `recorded` is told
    the list this target applied after each call Intercom confirmed."""

    mirror: bool
    again: bool
    recorded: Callable[[tuple[str, ...]], None]


class Tags:
    """Tag and untag calls, with the tag ids learned along the way."""

    def __init__(self, client: Client) -> None:
        self._client = client
        # Untagging a contact names the tag by Intercom's id: learned from any tag call.
        self._ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def apply_to_contact(
        self, contact_id: str, wanted: Sequence[str], applied: Sequence[str], how: Applying
    ) -> bool:
        """Tags the contact with the wanted tags not applied before; under mirror, untags
        the ones applied before that are no longer wanted. Whether any call was made."""
        return self._apply(
            wanted,
            applied,
            how,
            tag=lambda name: self._tag({"name": name, "users": [{"id": contact_id}]}),
            # A contact is untagged by the tag's id.
            untag=lambda name: request_unless_absent(
                self._client,
                "DELETE",
                "/contacts/{contact_id}/tags/{tag_id}",
                path={"contact_id": contact_id, "tag_id": self._id_of(name)},
            ),
            present=lambda: self._names(
                "GET", "/contacts/{contact_id}/tags", {"contact_id": contact_id}, "data"
            ),
        )

    def apply_to_company(
        self, company_id: str, wanted: Sequence[str], applied: Sequence[str], how: Applying
    ) -> bool:
        """The same for a company (Intercom's id), which is untagged by name."""
        return self._apply(
            wanted,
            applied,
            how,
            tag=lambda name: self._tag({"name": name, "companies": [{"id": company_id}]}),
            untag=lambda name: self._tag(
                {"name": name, "companies": [{"id": company_id, "untag": True}]}
            ),
            present=lambda: self._names(
                "GET", "/companies/{company_id}", {"company_id": company_id}, "tags"
            ),
        )

    @staticmethod
    def _apply(
        wanted: Sequence[str],
        applied: Sequence[str],
        how: Applying,
        *,
        tag: Callable[[str], object],
        untag: Callable[[str], object],
        present: Callable[[], set[str]],
    ) -> bool:
        now, sent = set(applied), False
        new = [name for name in dict.fromkeys(wanted) if how.again or name not in now]
        theirs = present() if how.mirror and any(name not in now for name in new) else set()
        for name in new:
            if name not in now and name in theirs:
                continue
            tag(name)
            now.add(name)
            sent = True
            how.recorded(tuple(sorted(now)))
        if how.mirror:
            for name in sorted(now - set(wanted)):
                untag(name)
                now.discard(name)
                sent = True
                how.recorded(tuple(sorted(now)))
        return sent

    def _names(self, method: str, template: str, path: dict[str, str], field: str) -> set[str]:
        """The names of the tags a contact or company holds in Intercom now."""
        answer = self._client.request(method, template, path=path).body or {}
        listed = answer.get(field) or []
        if isinstance(listed, dict):  # a company's tags: {"type": "tag.list", "tags": [...]}
            listed = listed.get("tags") or []
        return {str(tag.get("name")) for tag in listed if isinstance(tag, dict)}

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
