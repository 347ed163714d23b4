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

from inputs import ORDER_REFERENCE, ORDER_TYPE, Input, user


def check_landed(data: Input, workspace: dict[str, Any], stdout_path: Path) -> list[str]:
    """Every record in the fake, every user attached to its companies, and the last state
    out (a bare value per line, as Singer targets write it) is the last STATE in."""
    problems = []
    where = {"users": "contacts", "companies": "companies", "events": "events"}
    where["orders"] = f"instances:{ORDER_TYPE}"
    workspace = {
        **workspace,
        **{
            f"instances:{kind}": held
            for kind, held in (workspace.get("custom_object_instances") or {}).items()
        },
    }
    wanted = data.holds or {where[stream]: n for stream, n in data.expected.items()}
    if data.companies_on_users:
        wanted["companies"] = wanted.get("companies", 0) + data.companies_on_users
    for collection, expected in sorted(wanted.items()):
        landed = len(workspace.get(collection) or ())
        if landed != expected:
            problems.append(f"MISSING: {collection} {landed:,} of {expected:,}")
    if data.memberships:
        problems.extend(check_memberships(data.memberships, workspace))
    if data.order_links:
        problems.extend(check_order_links(data.order_links, workspace))
    if data.changed_every:
        problems.extend(check_names(data, workspace))
    if data.newest_of[0]:
        problems.extend(check_newest(data, workspace))
    states = [line for line in stdout_path.read_text().splitlines() if line.strip()]
    last = json.loads(states[-1]) if states else None
    if last != data.final_state:
        problems.append(f"STATE: last written {last}, expected {data.final_state}")
    return problems


def check_order_links(pairs: tuple[tuple[str, str], ...], workspace: dict[str, Any]) -> list[str]:
    """Each contact's reference attribute lists exactly its orders, each once."""
    names = {i["id"]: i["external_id"] for i in workspace.get(f"instances:{ORDER_TYPE}") or ()}
    held = {
        (contact["external_id"], names.get(instance, instance))
        for contact in workspace.get("contacts") or ()
        for instance in contact["custom_attributes"].get(ORDER_REFERENCE) or ()
    }
    listed = sum(
        len(contact["custom_attributes"].get(ORDER_REFERENCE) or ())
        for contact in workspace.get("contacts") or ()
    )
    wanted = set(pairs)
    if held == wanted and listed == len(wanted):
        return []
    return [
        f"ORDER LINKS: {len(wanted - held):,} missing, {len(held - wanted):,} extra, "
        f"{listed - len(held):,} listed twice"
    ]


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
    """Each (user id, company_id) pair attached in the fake, and no membership besides."""
    held = held_memberships(workspace)
    missing = [pair for pair in pairs if pair not in held]
    problems = []
    if missing:
        some = ", ".join(f"{u} to {c}" for u, c in missing[:3])
        problems.append(
            f"UNATTACHED: {len(missing):,} of {len(pairs):,} memberships (first: {some})"
        )
    if len(held) != len(set(pairs)):
        problems.append(f"MEMBERSHIPS: {len(held):,} in the fake, expected {len(set(pairs)):,}")
    return problems


def newest_rows(data: Input) -> dict[str, dict[str, Any]]:
    """Each user's newest row of `data.newest_of`'s stream, read back from the input file:
    the one with the greatest `timestamp` (Segment's time of the call), else the last.
    Read from the file rather than the generator, so that the check holds the target to
    what it was given."""
    stream, id_column = data.newest_of
    newest: dict[str, dict[str, Any]] = {}
    with data.path.open() as lines:
        for line in lines:
            message = json.loads(line)
            if message.get("type") != "RECORD" or message["stream"] != stream:
                continue
            row = message["record"]
            key = str(row[id_column])
            held = newest.get(key)
            if held is None or (row.get("timestamp") or "") >= (held.get("timestamp") or ""):
                newest[key] = row
    return newest


def check_newest(data: Input, workspace: dict[str, Any]) -> list[str]:
    """The fake holds, for every user, the `compared` columns of the user's newest row
    (`email` and `name` as contact fields, the rest as custom attributes): a history of
    rows, sent again in full every run, must settle on its newest row, whatever order the
    rows come in."""
    contacts = {c.get("external_id"): c for c in workspace.get("contacts") or ()}
    wrong = []
    for key, row in newest_rows(data).items():
        contact = contacts.get(key) or {}
        held = {**(contact.get("custom_attributes") or {}), **contact}
        differ = [column for column in data.compared if held.get(column) != row.get(column)]
        if differ:
            wrong.append((key, differ))
    if not wrong:
        return []
    key, columns = wrong[0]
    return [
        f"NEWEST: {len(wrong):,} users do not hold their newest row's values "
        f"(first: {key}, {', '.join(columns)})"
    ]


def links_held(pairs: tuple[tuple[str, str], ...], workspace: dict[str, Any]) -> int:
    """How many (user id, company_id) pairs the fake holds as memberships."""
    held = held_memberships(workspace)
    return sum(pair in held for pair in pairs)


def held_memberships(workspace: dict[str, Any]) -> set[tuple[str | None, str | None]]:
    """The fake's memberships as (external_id, company_id) pairs. It keeps them as pairs of
    Intercom's own ids, so they are read back through its contacts and companies."""
    contacts = {c["id"]: c.get("external_id") for c in workspace.get("contacts") or ()}
    companies = {c["id"]: c.get("company_id") for c in workspace.get("companies") or ()}
    return {
        (contacts.get(contact), companies.get(company))
        for contact, company in workspace.get("memberships") or ()
    }
