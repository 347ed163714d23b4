"""One rule for every call whose 404 is an answer, not a failure.

Deleting an archived contact, detaching a company that was never attached, finding a
user who is not there: for these Intercom's 404 says "not there (any more)", which is
the state the caller wanted or a fact it needs, never a reason to fail the record.
A 410 says the same of a contact merged into another (Intercom 2.16; 404 before), and
names the contact Intercom kept in its `Link` header: `merged_into` reads it, for the
callers that send the record on to that contact (an update of a contact the target
knows). The others take the 410 as "not there": the kept contact may be another
record's, and a delete, an untag or a lookup by external_id must not reach it.
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


def merged_into(exc: ApiError) -> str | None:
    """The contact Intercom kept when it merged the one a call named into it (a 410 with
    a `Link` to it); None for any other answer, or a 410 whose Link names none."""
    return exc.canonical_id if exc.status == 410 else None
