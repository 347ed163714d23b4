"""Removing what a smoke run made, from its manifest, and nothing else.

Safe to run again after a crash at any point: an entry is marked done as soon as it is,
and an object already gone counts as done. An entry whose id was never recorded is found
again by its prefixed key, and a found object is deleted only if it carries that key.
Data events and the fixed attribute cannot be deleted through Intercom's API.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from target_intercom.smoke.api import SmokeApi
from target_intercom.smoke.manifest import Manifest

# An intended object not found this long after it was intended was never made (the run
# died before its create): search, the only way to find a contact by email, can lag for
# minutes, so a younger one is left for the next --cleanup.
NEVER_MADE_AFTER = 1800


def clean_up(api: SmokeApi, manifest: Manifest) -> dict[str, Any]:
    """Deletes every pending entry; returns the tally and the entries left (not found)."""
    tally: Counter[str] = Counter()
    left: list[dict[str, Any]] = []
    for entry in manifest.pending():
        if entry["id"] is None:
            found = _find(api, manifest.prefix, entry)
            if found is None and time.time() - entry.get("at", 0) > NEVER_MADE_AFTER:
                manifest.settle(entry, "never_made")
                tally["never_made"] += 1
                continue
            if found is None:
                keys = ("kind", "external_id", "email", "company_id")
                left.append({k: entry[k] for k in keys if entry.get(k) is not None})
                continue
            entry["id"] = found
            manifest.save()
        state = _delete(api, entry)
        if state is None:
            left.append({k: entry.get(k) for k in ("kind", "id")})
            continue
        manifest.settle(entry, state)
        tally[state] += 1
    return {**dict(tally), "left": left}


def _delete(api: SmokeApi, entry: dict[str, Any]) -> str | None:
    """ "deleted", "gone" (already), "merged" (a merged contact: nothing to delete), or
    None when Intercom answered anything else."""
    if entry["kind"] == "company":
        answer = api.call("DELETE", f"/companies/{entry['id']}", route="/companies/{id}")
    else:
        answer = api.call("DELETE", f"/contacts/{entry['id']}", route="/contacts/{id}")
    if answer.status == 200:
        return "deleted"
    return {404: "gone", 410: "merged"}.get(answer.status)


def _find(api: SmokeApi, prefix: str, entry: dict[str, Any]) -> str | None:
    """The Intercom id of an entry made but never recorded, found by its prefixed key;
    None when Intercom has no such object (never made, or not searchable yet)."""
    if entry["kind"] == "company":
        answer = api.call("GET", "/companies", params={"company_id": entry["company_id"]})
        body = answer.body if answer.status == 200 and isinstance(answer.body, dict) else {}
        found = body if body.get("company_id") == entry["company_id"] else None
        return str(found["id"]) if found and str(found["company_id"]).startswith(prefix) else None
    candidates: list[dict[str, Any]] = []
    if entry.get("external_id"):
        answer = api.call(
            "GET",
            f"/contacts/find_by_external_id/{entry['external_id']}",
            route="/contacts/find_by_external_id/{id}",
        )
        if answer.status == 200 and isinstance(answer.body, dict):
            candidates.append(answer.body)
    if not candidates and entry.get("email"):
        query = {"query": {"field": "email", "operator": "=", "value": entry["email"]}}
        answer = api.call("POST", "/contacts/search", body=query)
        if answer.status == 200 and isinstance(answer.body, dict):
            candidates += answer.body.get("data") or []
    for contact in candidates:
        keys = (contact.get("external_id"), contact.get("email"))
        if any(isinstance(k, str) and k.startswith(prefix) for k in keys):
            return str(contact["id"])
    return None
