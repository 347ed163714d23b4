"""Whether a run was correct: what its input asked for is what the fake holds.

A row's numbers mean nothing if records went missing, so every run is checked before its
row counts, and the script exits non-zero on a failed check (a missed Target, by
contrast, is only reported). The checks read the fake's own state, not the target's
SUMMARY, so that they do not take the target's word for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inputs import Input, user


def check_landed(data: Input, workspace: dict[str, Any], stdout_path: Path) -> list[str]:
    """Every record in the fake, every user attached to its companies, and the last state
    out (a bare value per line, as Singer targets write it) is the last STATE in."""
    problems = []
    where = {"users": "contacts", "companies": "companies", "events": "events"}
    wanted = {where[stream]: n for stream, n in data.expected.items()}
    if data.companies_on_users:
        wanted["companies"] = wanted.get("companies", 0) + data.companies_on_users
    for collection, expected in sorted(wanted.items()):
        landed = len(workspace.get(collection) or ())
        if landed != expected:
            problems.append(f"MISSING: {collection} {landed:,} of {expected:,}")
    if data.memberships:
        problems.extend(check_memberships(data.memberships, workspace))
    if data.changed_every:
        problems.extend(check_names(data, workspace))
    states = [line for line in stdout_path.read_text().splitlines() if line.strip()]
    last = json.loads(states[-1]) if states else None
    if last != data.final_state:
        problems.append(f"STATE: last written {last}, expected {data.final_state}")
    return problems


def check_names(data: Input, workspace: dict[str, Any]) -> list[str]:
    """After a run that renamed users, the fake holds every user's name as the input has it:
    the renamed ones changed, the others not."""
    wrong = [
        contact["external_id"]
        for contact in workspace.get("contacts") or ()
        if contact.get("name")
        != user(int(contact["external_id"].removeprefix("u")), data.changed_every)["name"]
    ]
    if not wrong:
        return []
    return [f"NAMES: {len(wrong):,} users hold another name than the input's (first: {wrong[0]})"]


def check_memberships(pairs: tuple[tuple[str, str], ...], workspace: dict[str, Any]) -> list[str]:
    """Each (user id, company_id) pair attached in the fake, and no membership besides.

    The fake's memberships are pairs of Intercom's own ids, so they are read through its
    contacts (by external_id) and companies (by company_id).
    """
    contacts = {c["external_id"]: c["id"] for c in workspace.get("contacts") or ()}
    companies = {c["company_id"]: c["id"] for c in workspace.get("companies") or ()}
    held = {(contact, company) for contact, company in workspace.get("memberships") or ()}
    missing = [
        (user_id, company_id)
        for user_id, company_id in pairs
        if (contacts.get(user_id), companies.get(company_id)) not in held
    ]
    problems = []
    if missing:
        some = ", ".join(f"{u} to {c}" for u, c in missing[:3])
        problems.append(
            f"UNATTACHED: {len(missing):,} of {len(pairs):,} memberships (first: {some})"
        )
    if len(held) != len(set(pairs)):
        problems.append(f"MEMBERSHIPS: {len(held):,} in the fake, expected {len(set(pairs)):,}")
    return problems
