"""`target-intercom-demo`: a real load against the bundled fake Intercom, no account needed.

Starts the fake on 127.0.0.1, pipes a small Singer stream (users with their companies,
companies with tags, product events, STATE messages) through the real `target-intercom`
command, passes the target's log (stderr) and its STATE lines (stdout) through as they
come, and ends with what the fake workspace holds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from fake_intercom import FakeIntercom

DEMO_TOKEN = "demo-token-not-a-real-secret"
MELTANO_POINTER = "To load your own data with Meltano, see README.md → Using it with Meltano."


def demo_messages(users: int) -> list[dict]:
    """A tap's output: three streams, a STATE after each batch of ten users and a last one
    after the last user, as a tap ends."""
    string = {"type": ["string", "null"]}
    messages: list[dict] = [
        {
            "type": "SCHEMA",
            "stream": "users",
            "key_properties": ["id"],
            "schema": {
                "type": "object",
                "properties": {
                    "id": string,
                    "email": string,
                    "first_name": string,
                    "last_name": string,
                    "plan": string,
                    "created_at": {"type": ["string", "null"], "format": "date-time"},
                    "company": {
                        "type": ["object", "null"],
                        "properties": {"id": string, "name": string},
                    },
                    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
                },
            },
        },
        {
            "type": "SCHEMA",
            "stream": "companies",
            "key_properties": ["company_id"],
            "schema": {
                "type": "object",
                "properties": {
                    "company_id": string,
                    "name": string,
                    "plan": string,
                    "monthly_spend": {"type": ["number", "null"]},
                    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
                },
            },
        },
        {
            "type": "SCHEMA",
            "stream": "events",
            "key_properties": [],
            "schema": {
                "type": "object",
                "properties": {
                    "event": string,
                    "user_id": string,
                    "timestamp": {"type": ["string", "null"], "format": "date-time"},
                    "properties": {"type": ["object", "null"]},
                },
            },
        },
    ]
    messages.extend(
        {
            "type": "RECORD",
            "stream": "companies",
            "record": {
                "company_id": f"acme-{c}",
                "name": f"Acme {c}",
                "plan": "enterprise" if c == 0 else "team",
                "monthly_spend": 1200.5 * (c + 1),
                "tags": ["customer"],
            },
        }
        for c in range(3)
    )
    for i in range(users):
        messages.append(
            {
                "type": "RECORD",
                "stream": "users",
                "record": {
                    "id": f"user-{i}",
                    "email": f"user{i}@example.com",
                    "first_name": "User",
                    "last_name": str(i),
                    "plan": "pro" if i % 3 == 0 else "free",
                    "created_at": "2024-05-01T12:00:00Z",
                    "company": {"id": f"acme-{i % 3}", "name": f"Acme {i % 3}"},
                    "tags": ["demo"],
                },
            }
        )
        messages.append(
            {
                "type": "RECORD",
                "stream": "events",
                "record": {
                    "event": "signed_in",
                    "user_id": f"user-{i}",
                    "timestamp": "2024-05-02T08:30:00Z",
                    "properties": {"browser": "firefox", "revenue": 9.99},
                },
            }
        )
        if i % 10 == 9 or i == users - 1:
            messages.append({"type": "STATE", "value": {"bookmarks": {"users": {"last": i}}}})
    return messages


def say(text: str = "") -> None:
    """A line of the demo's own, out at once (stdout is block-buffered when piped)."""
    print(text, flush=True)


def _feed(stdin: IO[str], lines: Iterable[str]) -> None:
    """Writes the tap's output to the target; a target that stopped early ends it."""
    try:
        for line in lines:
            stdin.write(line)
        stdin.close()
    except OSError:  # BrokenPipeError among them
        pass  # the target exited; its log says why


def _pass_through(source: IO[str], sink: IO[str]) -> None:
    for line in source:
        sink.write(line)
        sink.flush()


def _users_confirmed(state: Any) -> int | None:
    """How many demo users are in Intercom once the target has written this STATE."""
    try:
        return int(state["bookmarks"]["users"]["last"]) + 1
    except (KeyError, TypeError, ValueError):
        return None


def run_target(config_path: Path, messages: list[dict], users: int) -> tuple[int, list[Any], bool]:
    """Runs `target-intercom` on the messages, its log and STATE lines shown as they come;
    returns its exit code, the STATEs it wrote, and whether Ctrl-C stopped it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    target = subprocess.Popen(
        [sys.executable, "-m", "target_intercom", "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        env=env,
    )
    assert target.stdin is not None and target.stdout is not None
    assert target.stderr is not None
    threads = [
        threading.Thread(
            target=_feed, args=(target.stdin, (json.dumps(m) + "\n" for m in messages))
        ),
        threading.Thread(target=_pass_through, args=(target.stderr, sys.stderr)),
    ]
    for thread in threads:
        thread.daemon = True
        thread.start()
    states: list[Any] = []

    def show(line: str) -> None:
        if not line.strip():
            return
        try:
            state = json.loads(line)
        except ValueError:
            say(f"target-intercom stdout: {line.rstrip()}")
            return
        states.append(state)
        confirmed = _users_confirmed(state)
        note = f"  <- {confirmed} of {users} users are in Intercom" if confirmed is not None else ""
        say(f"STATE {json.dumps(state)}{note}")

    interrupted = False
    while True:
        try:
            for line in target.stdout:
                show(line)
            break
        except KeyboardInterrupt:
            # Ctrl-C reached the target too: it lets the calls in flight finish and writes
            # its last STATE, which is worth seeing. A second Ctrl-C stops the demo at once.
            if interrupted:
                target.kill()
                raise
            interrupted = True
            say("Ctrl-C: target-intercom is stopping; its last STATE follows.")
    returncode = target.wait()
    for thread in threads:
        thread.join(timeout=5)
    return returncode, states, interrupted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=25, help="users to load (default 25)")
    parser.add_argument("--latency", type=float, default=0.05, help="fake latency, seconds")
    args = parser.parse_args(argv)
    with (
        FakeIntercom(token=DEMO_TOKEN, latency=args.latency) as fake,
        tempfile.TemporaryDirectory() as tmp,
    ):
        config = {
            "access_token": DEMO_TOKEN,
            "api_base_url": fake.url,
            "unknown_attributes": "create",
            # Each demo loads a new fake workspace: a store kept from an earlier demo would
            # hold the ids of one that is gone.
            "sync_store_path": str(Path(tmp) / "sync.db"),
        }
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps(config))
        say(f"Fake Intercom listening on {fake.url}; loading {args.users} users into it.")
        say("The target's log and the STATE lines it writes follow as they come.")
        say()
        started = time.monotonic()
        returncode, states, interrupted = run_target(
            config_path, demo_messages(args.users), args.users
        )
        elapsed = time.monotonic() - started
        say()
        calls = fake.call_counts()
        say(f"API calls the target made: {sum(calls.values())}")
        for endpoint, n in sorted(calls.items()):
            say(f"  {n:6d}  {endpoint}")
        say()
        if interrupted:
            say(f"target-intercom stopped by Ctrl-C after {elapsed:.1f} s.")
        elif returncode == 0:
            say(f"target-intercom finished in {elapsed:.1f} s.")
        else:
            say(
                f"target-intercom failed (exit code {returncode}) after {elapsed:.1f} s; "
                "its log above says why."
            )
        say(
            f"Loaded into the fake Intercom: {len(fake.contacts())} contacts, "
            f"{len(fake.companies())} companies, {len(fake.memberships())} memberships, "
            f"{len(fake.events())} events and {len(fake.contact_tags())} contact tags "
            f"(the demo's input: {args.users} users, 3 companies, {args.users} events)."
        )
        if states:
            confirmed = _users_confirmed(states[-1])
            meaning = (
                f" (user-{confirmed - 1} and everything the demo sent before it are in Intercom)"
                if confirmed is not None
                else ""
            )
            say(
                f"The last STATE the target wrote was {json.dumps(states[-1])}{meaning}: "
                "Meltano would store it and the next run would resume after it."
            )
        else:
            say("The target wrote no STATE: a next run would start from the beginning.")
        say(MELTANO_POINTER)
        return 130 if interrupted else returncode


if __name__ == "__main__":
    sys.exit(main())
