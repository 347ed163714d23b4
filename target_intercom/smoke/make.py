"""Creating the smoke test's own contacts: prefixed, unsubscribed, in the manifest first."""

from __future__ import annotations

import itertools
import re
from typing import Any

from target_intercom.smoke.api import Answer, SmokeApi
from target_intercom.smoke.manifest import Manifest

# The one contact attribute the smoke test writes, and the one event name it sends: neither
# can be deleted in Intercom, so every run reuses them instead of leaving new ones behind.
FIXED_ATTRIBUTE = "smoke_test_run"
FIXED_EVENT = "smoke-test-event"


# Answers that say a create made nothing. A 409 names a contact that exists, a 429 or a
# 5xx may come after the create was applied: those entries stay to be found at clean-up.
_REFUSED = frozenset({400, 401, 403, 404, 422})
# The contact a 409 names: "... already exists with id=<id>".
_NAMED_ID = re.compile(r"id=(\w+)")


class Maker:
    """Makes contacts whose keys carry the run's prefix, each in the manifest first."""

    def __init__(self, api: SmokeApi, manifest: Manifest) -> None:
        self.api = api
        self.manifest = manifest
        self._numbers = itertools.count(1)

    def key(self, what: str) -> str:
        """A new prefixed key for this run: `<prefix>-<what>-<n>`."""
        return f"{self.manifest.prefix}-{what}-{next(self._numbers)}"

    def email(self, key: str) -> str:
        """The contact's email: at example.com, a domain that never receives mail."""
        return f"{key}@example.com"

    def contact(self, role: str, *, external_id: str | None, email: str | None) -> Answer:
        """POST /contacts with the run's marks (unsubscribed, the fixed attribute naming
        the run); the entry is written before the call and its id right after."""
        entry = self.manifest.intend("contact", external_id=external_id, email=email)
        return self.send_contact(entry, role)

    def send_contact(self, entry: dict[str, Any], role: str) -> Answer:
        """Sends (again) the contact an entry names; a success records its id."""
        body: dict[str, Any] = {
            "role": role,
            "unsubscribed_from_emails": True,
            "custom_attributes": {FIXED_ATTRIBUTE: self.manifest.prefix},
        }
        for key in ("external_id", "email"):
            if entry.get(key) is not None:
                body[key] = entry[key]
        answer = self.api.call("POST", "/contacts", body=body)
        made = answer.status == 200 and isinstance(answer.body, dict) and answer.body.get("id")
        if made and entry["id"] is None:
            self.manifest.made(entry, str(answer.body["id"]))
        elif entry["id"] is None and (answer.status in _REFUSED or self._names_ours(answer)):
            self.manifest.settle(entry, "refused")  # nothing was made, nothing to clean up
        return answer

    def _names_ours(self, answer: Answer) -> bool:
        """A 409 naming a contact this run made already: the create made nothing new."""
        ours = {e["id"] for e in self.manifest.entries if e["id"] is not None}
        named = {m for text in answer.messages for m in _NAMED_ID.findall(text)}
        return answer.status == 409 and bool(named) and named <= ours
