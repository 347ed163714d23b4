"""Run the fake Intercom as a process, for the benchmark and the offline demo.

Prints one JSON line, {"url": ...}, once it is listening (so a parent process can read
the port it got), then serves until SIGTERM or SIGINT and exits 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from fake_intercom.attributes import MAX_CUSTOM_ATTRIBUTES
from fake_intercom.contacts import EMAIL_MATCH_MODES, check_email_match
from fake_intercom.faults import EXTRA_FAULT_KINDS, FAULT_KINDS, Faults
from fake_intercom.server import FakeIntercom

DEFAULT_TOKEN = "secret-token"

DESCRIPTION = f"""\
A fake Intercom REST API on 127.0.0.1, for tests, the benchmark and the offline demo.

Once listening it prints one JSON line, {{"url": "http://127.0.0.1:PORT"}}, then serves
until SIGTERM or Ctrl-C. It accepts only "Authorization: Bearer {DEFAULT_TOKEN}" (the
default access token; --token changes it) and answers any other token with Intercom's 401.
"""

EPILOG = """\
control endpoints (no token needed, JSON in and out):
  GET  /_fake/state      what the workspace holds: contacts, companies, memberships,
                         tags, events, data attributes, custom object instances, API
                         call counts and request bodies that broke Intercom's OpenAPI
                         description
  POST /_fake/reset      empty the workspace and the call log
  POST /_fake/configure  change behaviour while serving, e.g. {"latency": 0.1,
                         "rate_limit": 1000, "faults": {"rate": 0.05}}
  POST /_fake/merge      merge one contact into another, as Intercom's UI does:
                         {"from_id": "...", "into_id": "..."}
  POST /_fake/delete_contact
                         delete a contact by hand, as in Intercom's UI:
                         {"contact_id": "<Intercom id>"}
  POST /_fake/delete_company
                         delete a company by hand, with its memberships and tags:
                         {"company_id": "<your company_id>"}; answers its Intercom id
  POST /_fake/custom_object_type
                         define a custom object type, as Intercom's settings do:
                         {"name": "Order", "attributes": ["total"],
                          "reference_attribute": "order"} (the contact attribute
                         holding its instances' ids; optional)
  POST /_fake/email_match_on_create
                         {"mode": "conflict" | "duplicate"}: what a create with a new
                         external_id and the email of a user without one does (see
                         --email-match-on-create)

example:
  fake-intercom --port 8000 --latency 0.05 &
  curl -H "Authorization: Bearer secret-token" http://127.0.0.1:8000/me
  curl http://127.0.0.1:8000/_fake/state
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fake-intercom",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=0, help="0 lets the OS choose")
    parser.add_argument(
        "--token",
        default=DEFAULT_TOKEN,
        help=f"the only accepted Bearer token (default {DEFAULT_TOKEN})",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to responses")
    parser.add_argument("--rate-limit", type=int, default=None, help="calls per window")
    parser.add_argument("--rate-window", type=float, default=10.0, help="window in seconds")
    parser.add_argument(
        "--clock-skew", type=float, default=0.0, help="seconds the fake's clock is ahead"
    )
    parser.add_argument("--search-lag", type=float, default=0.0, help="seconds before search")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of faulty calls")
    parser.add_argument(
        "--fault-kinds",
        default=",".join(FAULT_KINDS),
        help=f"comma-separated subset of {','.join(FAULT_KINDS + EXTRA_FAULT_KINDS)}",
    )
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--fault-timeout", type=float, default=5.0, help="for 'timeout' faults")
    parser.add_argument("--fault-paths", default=None, help="comma-separated route templates")
    parser.add_argument("--openapi-path", type=Path, default=None)
    parser.add_argument("--no-validate", action="store_true", help="skip body validation")
    parser.add_argument("--max-event-names", type=int, default=120)
    parser.add_argument(
        "--max-custom-attributes",
        type=int,
        default=MAX_CUSTOM_ATTRIBUTES,
        help="custom attributes per model, archived ones included",
    )
    parser.add_argument(
        "--email-match-on-create",
        choices=EMAIL_MATCH_MODES,
        default="conflict",
        help="a create with a new external_id and the email of a user without one: 409"
        " naming that user (conflict, the default) or a second user (duplicate); Intercom"
        " does not document which",
    )
    parser.add_argument(
        "--app-name",
        default="Fake Intercom",
        help="the workspace's name, as GET /me answers it (what target-intercom-smoke checks)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    faults = Faults(
        rate=args.fault_rate,
        kinds=[k for k in args.fault_kinds.split(",") if k],
        seed=args.fault_seed,
        timeout=args.fault_timeout,
        paths=args.fault_paths.split(",") if args.fault_paths else None,
    )
    fake = FakeIntercom(
        token=args.token,
        latency=args.latency,
        search_lag=args.search_lag,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        clock_skew=args.clock_skew,
        faults=faults,
        openapi_path=args.openapi_path,
        validate=not args.no_validate,
        max_event_names=args.max_event_names,
        max_custom_attributes=args.max_custom_attributes,
        email_match_on_create=check_email_match(args.email_match_on_create),
        port=args.port,
        app_name=args.app_name,
    )
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    url = fake.start()
    print(json.dumps({"url": url}), flush=True)
    try:
        while not stopping.wait(0.5):  # a timed wait lets signal handlers run promptly
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
