"""The target itself on a small prefixed load, run twice: the second run must cost only
the check of `GET /me`, since the sync store knows everything is already in Intercom.

The real CLI in a subprocess, as a user runs it; the token reaches it through the
environment (`--config ENV`), never a file. What each run cost is read from its SUMMARY
line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from target_intercom.smoke.api import SmokeApi
from target_intercom.smoke.make import FIXED_ATTRIBUTE, FIXED_EVENT
from target_intercom.smoke.manifest import Manifest

# One run of the target on the load may take at most this long.
RUN_TIMEOUT = 600.0
USERS, COMPANIES = 5, 2


def messages(prefix: str) -> list[dict[str, Any]]:
    """Users (unsubscribed, each in a company), their companies and one event each."""
    companies = [f"{prefix}-company-{n}" for n in range(1, COMPANIES + 1)]
    users = [f"{prefix}-user-{n}" for n in range(1, USERS + 1)]
    at = int(time.time()) - 3600
    out: list[dict[str, Any]] = [
        _schema("companies", {"company_id": "string", "name": "string"}, "company_id"),
        *(
            {"type": "RECORD", "stream": "companies", "record": {"company_id": c, "name": c}}
            for c in companies
        ),
        _schema(
            "users",
            {
                "user_id": "string",
                "email": "string",
                "name": "string",
                "unsubscribed_from_emails": "boolean",
                "company_id": "string",
                FIXED_ATTRIBUTE: "string",
            },
            "user_id",
        ),
    ]
    for n, user in enumerate(users):
        row = {
            "user_id": user,
            "email": f"{user}@example.com",
            "name": user,
            "unsubscribed_from_emails": True,
            "company_id": companies[n % COMPANIES],
            FIXED_ATTRIBUTE: prefix,
        }
        out.append({"type": "RECORD", "stream": "users", "record": row})
    out.append(
        _schema("events", {"event_name": "string", "created_at": "integer", "user_id": "string"})
    )
    for n, user in enumerate(users):
        event = {"event_name": FIXED_EVENT, "created_at": at + n, "user_id": user}
        out.append({"type": "RECORD", "stream": "events", "record": event})
    return out


def _schema(stream: str, types: dict[str, str], key: str | None = None) -> dict[str, Any]:
    properties = {name: {"type": [kind, "null"]} for name, kind in types.items()}
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": [key] if key else [],
    }


def intend_load(manifest: Manifest) -> None:
    """Writes the load's contacts and companies into the manifest before the target runs:
    the target makes them, so their ids are found by key at clean-up."""
    for n in range(1, COMPANIES + 1):
        manifest.intend("company", company_id=f"{manifest.prefix}-company-{n}")
    for n in range(1, USERS + 1):
        user = f"{manifest.prefix}-user-{n}"
        manifest.intend("contact", external_id=user, email=f"{user}@example.com")


def confirm_load(api: SmokeApi, manifest: Manifest) -> dict[str, Any]:
    """The load's users as Intercom holds them: their ids go into the manifest at once
    (clean-up then needs no search), and each must be unsubscribed, as every contact the
    smoke test makes is."""
    found = unsubscribed = 0
    for entry in manifest.pending():
        if entry["kind"] != "contact" or entry["id"] is not None:
            continue
        answer = api.call(
            "GET",
            f"/contacts/find_by_external_id/{entry['external_id']}",
            route="/contacts/find_by_external_id/{id}",
        )
        if answer.status == 200 and isinstance(answer.body, dict) and answer.body.get("id"):
            manifest.made(entry, str(answer.body["id"]))
            found += 1
            unsubscribed += answer.body.get("unsubscribed_from_emails") is True
    return {"users": USERS, "found": found, "unsubscribed": unsubscribed}


def run_target_twice(base_url: str, prefix: str) -> list[dict[str, Any]]:
    """Both runs' exit codes and SUMMARY figures; one sync store, in a temporary folder."""
    lines = "".join(json.dumps(m) + "\n" for m in messages(prefix))
    with tempfile.TemporaryDirectory(prefix="target-intercom-smoke-") as folder:
        config = Path(folder, "config.json")
        settings = {"api_base_url": base_url, "sync_store_path": str(Path(folder, "sync.db"))}
        config.write_text(json.dumps(settings), encoding="utf-8")
        command = [sys.executable, "-m", "target_intercom", "--config", str(config)]
        return [_run([*command, "--config", "ENV"], lines, folder) for _ in range(2)]


def _run(command: list[str], stdin: str, cwd: str) -> dict[str, Any]:
    """One run of the target; the token comes from this process's environment."""
    done = subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    summary = _summary(done.stderr)
    result: dict[str, Any] = {"exit_code": done.returncode}
    if summary is None:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        return {**result, "last_line": tail[0]}
    keep = ("api_calls", "api_calls_total", "retries", "rate_limited", "streams")
    return {**result, **{k: summary.get(k) for k in keep}}


def _summary(stderr: str) -> dict[str, Any] | None:
    """The run's SUMMARY line as JSON, or None if it never got that far."""
    for line in reversed(stderr.splitlines()):
        _, found, text = line.partition("SUMMARY: ")
        if found:
            try:
                summary = json.loads(text)
            except ValueError:
                return None
            return summary if isinstance(summary, dict) else None
    return None
