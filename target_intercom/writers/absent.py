"""One rule for every call whose 404 is an answer, not a failure.

Deleting an archived contact, detaching a company that was never attached, finding a
user who is not there: for these Intercom's 404 says "not there (any more)", which is
the state the caller wanted or a fact it needs, never a reason to fail the record.
A 410 says the same of a contact merged into another (Intercom 2.16; 404 before).
"""

from __future__ import annotations

from typing import Any

from target_intercom.client import ApiError, Client, Response


def request_unless_absent(
    client: Client, method: str, template: str, **kwargs: Any
) -> Response | None:
    """The call's answer, or None when Intercom answers 404 or 410 for what the call names."""
    try:
        return client.request(method, template, **kwargs)
    except ApiError as exc:
        if exc.status in (404, 410):
            return None
        raise
