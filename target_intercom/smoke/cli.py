"""`target-intercom-smoke`: the command line, the workspace check, and the run's order.

A run: refuse unless `GET /me` names the workspace the user typed; make sure the fixed
attribute exists (creating it only with --allow-new-names); run the checks; run the
target twice on a small load; clean up; write the report. `--cleanup MANIFEST` does only
the clean-up, for a run that died. The token is read from the environment and is masked
in everything this command writes.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import requests

from target_intercom.credentials import checked_token, safe_base_url
from target_intercom.errors import FatalError
from target_intercom.redact import mask, written_forms
from target_intercom.smoke.api import SmokeApi
from target_intercom.smoke.checks import Bounds, run_checks
from target_intercom.smoke.cleanup import clean_up
from target_intercom.smoke.load import confirm_load, intend_load, run_target_twice
from target_intercom.smoke.make import FIXED_ATTRIBUTE, FIXED_EVENT, Maker
from target_intercom.smoke.manifest import InjectedCrash, Manifest

TOKEN_VARIABLE = "TARGET_INTERCOM_ACCESS_TOKEN"
REGIONS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="target-intercom-smoke",
        description="Check Intercom's undocumented rules against a test or development "
        "workspace and run target-intercom there on a small load; everything made is "
        f"prefixed, recorded in a manifest, and deleted at the end. Token: ${TOKEN_VARIABLE}.",
    )
    parser.add_argument(
        "--workspace-name",
        required=True,
        help="the workspace's name exactly as GET /me answers it (app.name); nothing runs "
        "against any other",
    )
    parser.add_argument("--region", choices=sorted(REGIONS), default="us")
    parser.add_argument("--api-base-url", help="overrides --region (the fake Intercom, a proxy)")
    parser.add_argument("--report", type=Path, default=None, help="default <prefix>.json")
    parser.add_argument(
        "--manifest", type=Path, default=None, help="default <prefix>.manifest.json"
    )
    parser.add_argument(
        "--cleanup", type=Path, metavar="MANIFEST", help="only clean up what a run left behind"
    )
    parser.add_argument("--allow-merge", action="store_true", help="merge a lead into a user")
    parser.add_argument(
        "--allow-burst", action="store_true", help="call GET /me until a 429 (bounded)"
    )
    parser.add_argument(
        "--allow-new-names",
        action="store_true",
        help=f"create the attribute {FIXED_ATTRIBUTE!r} and the event name {FIXED_EVENT!r} "
        "if this workspace has never had a smoke run (neither can be deleted)",
    )
    parser.add_argument("--search-wait", type=float, default=300.0, help="seconds, at most")
    parser.add_argument("--event-wait", type=float, default=60.0, help="seconds, at most")
    parser.add_argument("--burst-calls", type=int, default=2000, help="calls, at most")
    parser.add_argument("--skip-target", action="store_true", help="only the checks")
    # For the tests: stop as if killed once this many objects are made.
    parser.add_argument("--fail-after-creates", type=int, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command; exit 0 when the run (or clean-up) finished and nothing was left."""
    args = _parser().parse_args(argv)
    token = ""
    try:
        token = checked_token(os.environ.get(TOKEN_VARIABLE) or "")
        return _run(args, token)
    except (FatalError, requests.RequestException, OSError, ValueError) as exc:
        text = str(exc) if isinstance(exc, FatalError) else f"{type(exc).__name__}: {exc}"
        print(f"target-intercom-smoke: {_masked(text, token)}", file=sys.stderr)
        return 2
    except (InjectedCrash, KeyboardInterrupt) as exc:
        print(f"target-intercom-smoke: {exc or 'interrupted'}", file=sys.stderr)
        return 3


def _run(args: argparse.Namespace, token: str) -> int:
    if args.cleanup is not None:
        manifest = Manifest.load(args.cleanup)
        base_url = safe_base_url(str(manifest.data["api_base_url"]))
    else:
        base_url = safe_base_url(args.api_base_url or REGIONS[args.region])
    api = SmokeApi(base_url, token)
    try:
        _check_workspace(api, args.workspace_name)
        if args.cleanup is not None:
            return _cleanup_only(api, manifest, args, token)
        return _full_run(api, base_url, args, token)
    finally:
        api.close()


def _check_workspace(api: SmokeApi, expected: str) -> None:
    """Refuses unless the token's workspace is the one named on the command line."""
    me = api.call("GET", "/me")
    if me.status != 200 or not isinstance(me.body, dict):
        raise FatalError(f"GET /me answered {me.status}: check {TOKEN_VARIABLE} and the region")
    app = me.body.get("app")
    name = app.get("name") if isinstance(app, dict) else None
    if name != expected:
        raise FatalError(
            f"the token's workspace is {name!r}, not {expected!r} (--workspace-name): "
            "nothing was done"
        )


def _ensure_fixed_names(api: SmokeApi, allow_new: bool) -> None:
    """The fixed attribute exists, or is created with --allow-new-names. A workspace that
    has it has had a smoke run, and so has the fixed event name too."""
    listed = api.call("GET", "/data_attributes", params={"model": "contact"})
    data = listed.body.get("data") if isinstance(listed.body, dict) else None
    if any(isinstance(a, dict) and a.get("name") == FIXED_ATTRIBUTE for a in data or []):
        return
    if not allow_new:
        raise FatalError(
            f"this workspace has no contact attribute {FIXED_ATTRIBUTE!r}, so no smoke run has "
            f"been here: run with --allow-new-names to create it and the event name "
            f"{FIXED_EVENT!r} (both permanent)"
        )
    body = {"name": FIXED_ATTRIBUTE, "model": "contact", "data_type": "string"}
    created = api.call("POST", "/data_attributes", body=body)
    if created.status != 200:
        raise FatalError(f"creating the attribute {FIXED_ATTRIBUTE!r} answered {created.status}")


def _full_run(api: SmokeApi, base_url: str, args: argparse.Namespace, token: str) -> int:
    prefix = f"smoke-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"
    manifest_path = args.manifest or Path(f"{prefix}.manifest.json")
    report_path = args.report or Path(f"{prefix}.json")
    _ensure_fixed_names(api, args.allow_new_names)
    manifest = Manifest.new(
        manifest_path, prefix, base_url, args.workspace_name, fail_after=args.fail_after_creates
    )
    _say(f"prefix {prefix}; manifest {manifest_path}", token)
    bounds = Bounds(
        args.search_wait, args.event_wait, args.burst_calls, args.allow_merge, args.allow_burst
    )
    report: dict[str, Any] = {"workspace_name": args.workspace_name, "prefix": "<prefix>"}
    report["flags"] = {"allow_merge": args.allow_merge, "allow_burst": args.allow_burst}
    try:
        report["checks"] = run_checks(Maker(api, manifest), bounds)
        if not args.skip_target:
            intend_load(manifest)
            runs = run_target_twice(base_url, prefix)
            report["target_runs"] = runs
            report["second_run_calls"] = runs[-1].get("api_calls")
            report["load_in_intercom"] = confirm_load(api, manifest)
        report["cleanup"] = clean_up(api, manifest)
    except BaseException:
        # Killed, interrupted or failed before its clean-up finished: the manifest knows.
        _say(f"stopped before cleaning up: run again with --cleanup {manifest_path}", token)
        raise
    report["smoke_calls"] = dict(sorted(api.calls.items()))
    _write_report(report_path, report, token)
    _say(f"report {report_path}", token)
    return _cleanup_verdict(report["cleanup"], manifest_path, token)


def _cleanup_only(api: SmokeApi, manifest: Manifest, args: argparse.Namespace, token: str) -> int:
    if manifest.data.get("workspace_name") != args.workspace_name:
        raise FatalError(
            f"{manifest.path} was made in {manifest.data.get('workspace_name')!r}, not "
            f"{args.workspace_name!r}: nothing was done"
        )
    result = clean_up(api, manifest)
    _say(f"clean-up of {manifest.path}: {json.dumps(result)}", token)
    if args.report is not None:
        _write_report(args.report, {"cleanup": result}, token)
    return _cleanup_verdict(result, manifest.path, token)


def _cleanup_verdict(result: dict[str, Any], manifest_path: Path, token: str) -> int:
    if result["left"]:
        _say(
            f"{len(result['left'])} object(s) not cleaned up yet (not searchable yet?): "
            f"run again with --cleanup {manifest_path}",
            token,
        )
        return 1
    return 0


def _write_report(path: Path, report: dict[str, Any], token: str) -> None:
    """The report as JSON, the token masked in it should any answer have echoed it."""
    path.write_text(_masked(json.dumps(report, indent=2, sort_keys=True), token) + "\n")


def _say(line: str, token: str) -> None:
    print(f"target-intercom-smoke: {_masked(line, token)}", file=sys.stderr, flush=True)


def _masked(text: str, token: str) -> str:
    return mask(text, written_forms(token)) if token else text


if __name__ == "__main__":
    sys.exit(main())
