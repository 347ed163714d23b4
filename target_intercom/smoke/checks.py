"""The rules the facts page marks unknown or measured only on the fake, checked live.

Each check returns what Intercom answered, with ids and the run's prefix replaced by
placeholders, so a report from a real workspace diffs line by line against one from the
fake. A check that meets an unexpected answer records it and the next check runs.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from typing import Any

import requests

from target_intercom.smoke.api import RATE_LIMIT_HEADERS, Answer, seconds_to_reset
from target_intercom.smoke.make import FIXED_EVENT, Maker

_INTERCOM_ID = re.compile(r"\b[0-9a-f]{24}\b")
_ID_EQUALS = re.compile(r"id=[^\s,;.]+")


@dataclasses.dataclass(frozen=True)
class Bounds:
    """How long the checks that poll may wait, and what the flags allow."""

    search_wait: float = 300.0
    event_wait: float = 60.0
    burst_calls: int = 2000
    allow_merge: bool = False
    allow_burst: bool = False


def shape(text: str, prefix: str) -> str:
    """An answer's text with ids and the run's prefix as placeholders, for diffing."""
    text = text.replace(prefix, "<prefix>")
    return _ID_EQUALS.sub("id=<id>", _INTERCOM_ID.sub("<id>", text))


def answered(answer: Answer, prefix: str) -> dict[str, Any]:
    """What a report keeps of an answer: status, error codes and shaped messages."""
    kept: dict[str, Any] = {"status": answer.status}
    if answer.codes:
        kept["codes"] = answer.codes
        kept["messages"] = [shape(m, prefix) for m in answer.messages]
    return kept


def _poll(bound: float, probe: Callable[[], bool]) -> tuple[bool, float, int]:
    """Calls `probe` until it is true or `bound` seconds pass, waiting 0.5 s doubling to
    5 s between tries: (found, seconds taken, tries)."""
    started, tries, pause = time.monotonic(), 0, 0.5
    while True:
        tries += 1
        if probe():
            return True, round(time.monotonic() - started, 1), tries
        if time.monotonic() - started + pause > bound:
            return False, round(time.monotonic() - started, 1), tries
        time.sleep(pause)
        pause = min(pause * 2, 5.0)


def duplicates_and_archived(make: Maker, bounds: Bounds) -> dict[str, Any]:
    """409 texts on a duplicate create, live and archived; what an archived contact
    answers on GET and on find_by_external_id."""
    api, prefix = make.api, make.manifest.prefix
    key = make.key("dup")
    first = make.contact("user", external_id=key, email=make.email(key))
    if first.status != 200:
        return {"create": answered(first, prefix)}
    entry, contact_id = make.manifest.entries[-1], first.body["id"]
    result: dict[str, Any] = {
        "duplicate_create": answered(make.send_contact(entry, "user"), prefix)
    }
    archive = api.call("POST", f"/contacts/{contact_id}/archive", route="/contacts/{id}/archive")
    result["archive"] = answered(archive, prefix)
    result["archived_duplicate_create"] = answered(make.send_contact(entry, "user"), prefix)
    got = api.call("GET", f"/contacts/{contact_id}", route="/contacts/{id}")
    result["archived_get"] = answered(got, prefix)
    if got.status == 200 and isinstance(got.body, dict):
        result["archived_get"]["archived_field"] = got.body.get("archived")
    found = api.call(
        "GET", f"/contacts/find_by_external_id/{key}", route="/contacts/find_by_external_id/{id}"
    )
    result["archived_find_by_external_id"] = answered(found, prefix)
    return result


def search_lag(make: Maker, bounds: Bounds) -> dict[str, Any]:
    """Seconds until a new contact is searchable by external_id, then, once archived,
    until search stops returning it (each polled, bounded)."""
    key = make.key("lag")
    created = make.contact("user", external_id=key, email=make.email(key))
    if created.status != 200:
        return {"create": answered(created, make.manifest.prefix)}
    found, seconds, tries = _poll(
        bounds.search_wait, lambda: _total(_search(make, "external_id", key)) > 0
    )
    result: dict[str, Any] = {"found": found, "seconds": seconds, "searches": tries}
    result["bound"] = bounds.search_wait
    if not found:
        return result
    path = f"/contacts/{created.body['id']}/archive"
    archived = make.api.call("POST", path, route="/contacts/{id}/archive")
    if archived.status != 200:
        return {**result, "archive": answered(archived, make.manifest.prefix)}
    gone, seconds, _ = _poll(
        bounds.search_wait, lambda: _total(_search(make, "external_id", key)) == 0
    )
    return {**result, "archived_left_search": gone, "archived_left_after_seconds": seconds}


def lead_external_id(make: Maker, bounds: Bounds) -> dict[str, Any]:
    """Whether a lead created with an external_id is refused, or keeps it, or drops it."""
    key = make.key("lead")
    created = make.contact("lead", external_id=key, email=make.email(key))
    result = answered(created, make.manifest.prefix)
    if created.status == 200 and isinstance(created.body, dict):
        result["role"] = created.body.get("role")
        result["external_id_kept"] = created.body.get("external_id") == key
    return result


def merged_contacts(make: Maker, bounds: Bounds) -> dict[str, Any]:
    """What a merged lead answers: 410 with a Link naming the user it went into?
    Behind --allow-merge: a merge cannot be undone."""
    if not bounds.allow_merge:
        return {"skipped": "needs --allow-merge (a merge cannot be undone)"}
    api, prefix = make.api, make.manifest.prefix
    lead_key, user_key = make.key("merge-lead"), make.key("merge-user")
    lead = make.contact("lead", external_id=None, email=make.email(lead_key))
    lead_entry = make.manifest.entries[-1]
    user = make.contact("user", external_id=user_key, email=make.email(user_key))
    if lead.status != 200 or user.status != 200:
        return {"create_lead": answered(lead, prefix), "create_user": answered(user, prefix)}
    lead_id, user_id = lead.body["id"], user.body["id"]
    merge = api.call("POST", "/contacts/merge", body={"from": lead_id, "into": user_id})
    result: dict[str, Any] = {"merge": answered(merge, prefix)}
    if merge.status != 200:
        return result
    make.manifest.settle(lead_entry, "merged")
    got = api.call("GET", f"/contacts/{lead_id}", route="/contacts/{id}")
    link = got.headers.get("Link")
    result["merged_get"] = {
        **answered(got, prefix),
        "link": shape(link, prefix) if link else None,
        "link_names_the_user": link is not None and f"/contacts/{user_id}>" in link,
    }
    return result


def list_page_size(make: Maker, bounds: Bounds) -> dict[str, Any]:
    """GET /contacts: the default page size, 150, and 151 (capped or refused?). Only
    counts are kept: the listed contacts are not the run's."""
    result: dict[str, Any] = {}
    for label, params in (
        ("default", None),
        ("150", {"per_page": 150}),
        ("151", {"per_page": 151}),
    ):
        got = make.api.call("GET", "/contacts", params=params)
        kept = answered(got, make.manifest.prefix)
        if got.status == 200 and isinstance(got.body, dict):
            pages = got.body.get("pages") or {}
            kept["per_page"] = pages.get("per_page") if isinstance(pages, dict) else None
            kept["listed"] = len(got.body.get("data") or [])
        result[label] = kept
    return result


def rate_limits(make: Maker, bounds: Bounds) -> dict[str, Any]:
    """The rate-limit headers on an ordinary call; with --allow-burst, calls until a 429
    (bounded) and what it says, then a wait for the window's reset."""
    me = make.api.call("GET", "/me")
    result: dict[str, Any] = {"headers_present": [h for h in RATE_LIMIT_HEADERS if h in me.headers]}
    try:
        result["limit"] = int(me.headers["X-RateLimit-Limit"])
        result["reset_in_seconds"] = round(float(me.headers["X-RateLimit-Reset"]) - time.time())
    except (KeyError, ValueError):
        pass
    if not bounds.allow_burst:
        result["burst"] = {"skipped": "needs --allow-burst (spends the app's rate limit)"}
        return result
    for calls in range(1, bounds.burst_calls + 1):
        answer = make.api.call("GET", "/me", wait_out_429=False)
        if answer.status == 429:
            result["burst"] = {
                "calls_until_429": calls,
                **answered(answer, make.manifest.prefix),
                "headers_present": [h for h in RATE_LIMIT_HEADERS if h in answer.headers],
            }
            time.sleep(seconds_to_reset(answer.headers, 15.0))
            return result
    result["burst"] = {"calls_until_429": None, "bound": bounds.burst_calls}
    return result


def preview_version(make: Maker, bounds: Bounds) -> dict[str, Any]:
    """Whether `Intercom-Version: Preview` (and the old name `Unstable`) is accepted."""
    prefix = make.manifest.prefix
    return {
        version: answered(make.api.call("GET", "/me", version=version), prefix)
        for version in ("Preview", "Unstable")
    }


def event_duplicates(make: Maker, bounds: Bounds) -> dict[str, Any]:
    """The same event (contact, name, created_at) sent twice: stored once? For a user
    named by external_id (documented) and a lead named by its id (not documented)."""
    user_key, lead_key = make.key("event-user"), make.key("event-lead")
    user = make.contact("user", external_id=user_key, email=make.email(user_key))
    lead = make.contact("lead", external_id=None, email=make.email(lead_key))
    results: dict[str, Any] = {}
    for label, created, name in (("user", user, {"user_id": user_key}), ("lead", lead, None)):
        if created.status != 200:
            results[label] = {"create": answered(created, make.manifest.prefix)}
            continue
        contact_id = str(created.body["id"])
        results[label] = _send_twice(make, bounds, contact_id, name or {"id": contact_id})
    return results


def _send_twice(
    make: Maker, bounds: Bounds, contact_id: str, names: dict[str, str]
) -> dict[str, Any]:
    """Sends one event twice, then lists the contact's events until it shows (bounded),
    and once more a moment later, in case the second copy lists later than the first."""
    at = int(time.time()) - 60
    body = {"event_name": FIXED_EVENT, "created_at": at, **names}
    prefix = make.manifest.prefix
    sends = [answered(make.api.call("POST", "/events", body=body), prefix) for _ in range(2)]

    def stored() -> int:
        params = {"type": "user", "intercom_user_id": contact_id}
        got = make.api.call("GET", "/events", params=params)
        events = got.body.get("events") if isinstance(got.body, dict) else None
        return sum(
            1
            for e in events or []
            if str(e.get("event_name", "")).lower() == FIXED_EVENT and e.get("created_at") == at
        )

    found, seconds, _ = _poll(bounds.event_wait, lambda: stored() > 0)
    if found:
        time.sleep(min(5.0, bounds.event_wait / 4))
    return {"sends": sends, "listed": found, "seconds": seconds, "stored": stored()}


def email_match_on_create(make: Maker, bounds: Bounds) -> dict[str, Any]:
    """A create with a new external_id and the email of a user who has none: 409 naming
    that user, or a second user with the same email? (Not documented.)"""
    prefix, key = make.manifest.prefix, make.key("email-match")
    first = make.contact("user", external_id=None, email=make.email(key))
    if first.status != 200:
        return {"create": answered(first, prefix)}
    second = make.contact("user", external_id=key, email=make.email(key))
    result = answered(second, prefix)
    result["second_contact_made"] = (
        second.status == 200 and second.body.get("id") != first.body["id"]
    )
    return result


CHECKS: dict[str, Callable[[Maker, Bounds], dict[str, Any]]] = {
    "duplicates_and_archived": duplicates_and_archived,
    "search_lag": search_lag,
    "lead_external_id": lead_external_id,
    "merged_contacts": merged_contacts,
    "list_page_size": list_page_size,
    "rate_limits": rate_limits,
    "preview_version": preview_version,
    "event_duplicates": event_duplicates,
    "email_match_on_create": email_match_on_create,
}


def run_checks(make: Maker, bounds: Bounds) -> dict[str, Any]:
    """Every check in turn; one that fails on an unexpected answer records why."""
    return {name: _one(check, make, bounds) for name, check in CHECKS.items()}


def _one(
    check: Callable[[Maker, Bounds], dict[str, Any]], make: Maker, bounds: Bounds
) -> dict[str, Any]:
    try:
        return check(make, bounds)
    except (requests.RequestException, KeyError, TypeError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {shape(str(exc), make.manifest.prefix)}"}


def _search(make: Maker, field: str, value: str) -> Answer:
    query = {"query": {"field": field, "operator": "=", "value": value}}
    return make.api.call("POST", "/contacts/search", body=query)


def _total(answer: Answer) -> int:
    """Contacts a search found; 0 for a failed search or one with no `data` at all."""
    if answer.status != 200 or not isinstance(answer.body, dict):
        return 0
    return len(answer.body.get("data") or [])
