"""`target-intercom-demo`: a real load against the bundled fake Intercom, no account needed.

Starts the fake on 127.0.0.1, pipes a small Singer stream (users with their companies,
companies with tags, product events, STATE messages) through the real `target-intercom`
command, and prints what the fake workspace holds afterwards.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from fake_intercom import FakeIntercom

DEMO_TOKEN = "demo-token-not-a-real-secret"


def demo_messages(users: int) -> list[dict]:
    """A tap's output: three streams and a STATE after each batch of ten users."""
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
    for c in range(3):
        messages.append(
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
        if i % 10 == 9:
            messages.append({"type": "STATE", "value": {"bookmarks": {"users": {"last": i}}}})
    return messages


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
        }
        config_path = Path(tmp) / "config.json"
        config_path.write_text(json.dumps(config))
        print(f"Fake Intercom listening on {fake.url}; loading {args.users} users...")
        lines = "".join(json.dumps(m) + "\n" for m in demo_messages(args.users))
        done = subprocess.run(
            [sys.executable, "-m", "target_intercom", "--config", str(config_path)],
            input=lines,
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stderr.write(done.stderr)
        states = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        print()
        print(f"target-intercom exited with {done.returncode}")
        last = json.dumps(states[-1]) if states else "none"
        print(f"STATE messages written: {len(states)}; last: {last}")
        print(f"Contacts in the fake workspace:    {len(fake.contacts())}")
        print(f"Companies:                         {len(fake.companies())}")
        print(f"Memberships (contact -> company):  {len(fake.memberships())}")
        print(f"Events:                            {len(fake.events())}")
        print(f"Contact tags:                      {len(fake.contact_tags())}")
        calls = fake.call_counts()
        print(f"API calls: {sum(calls.values())}")
        for endpoint, n in sorted(calls.items()):
            print(f"  {n:6d}  {endpoint}")
        return done.returncode


if __name__ == "__main__":
    sys.exit(main())
