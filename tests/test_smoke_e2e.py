"""`target-intercom-smoke` against the fake Intercom: what it makes it cleans up, it runs
only in the workspace it is told, a crash leaves a manifest that cleans up, and the token
is nowhere in what it writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from fake_intercom import FakeIntercom

from target_intercom.smoke.cli import main
from target_intercom.smoke.make import FIXED_ATTRIBUTE
from tests.conftest import OPENAPI_PATH, TOKEN

WORKSPACE = "Fake Intercom"  # the fake's app name unless told otherwise


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TARGET_INTERCOM_ACCESS_TOKEN", TOKEN)


def smoke(fake: FakeIntercom, tmp_path: Path, *args: str) -> int:
    return main(
        [
            "--api-base-url",
            str(fake.url),
            "--report",
            str(tmp_path / "report.json"),
            "--manifest",
            str(tmp_path / "manifest.json"),
            "--search-wait",
            "2",
            "--event-wait",
            "0.4",
            *args,
        ]
    )


def crash_after(fake: FakeIntercom, tmp_path: Path, creates: int, *more: str) -> int:
    """A run of the checks alone (no target) that crashes after `creates` creates, as a
    kill would, leaving its manifest for a clean-up to resume."""
    return smoke(
        fake,
        tmp_path,
        "--workspace-name",
        WORKSPACE,
        "--allow-new-names",
        *more,
        "--skip-target",
        "--fail-after-creates",
        str(creates),
    )


def made_by(fake: FakeIntercom, prefix: str) -> dict[str, list[Any]]:
    """What the fake holds (archived contacts included) whose keys carry the prefix."""
    contacts = [
        c
        for c in fake.contacts()
        if any(str(c.get(k) or "").startswith(prefix) for k in ("external_id", "email"))
    ]
    companies = [c for c in fake.companies() if str(c["company_id"]).startswith(prefix)]
    return {"contacts": contacts, "companies": companies}


def written(tmp_path: Path, captured: pytest.CaptureFixture[str]) -> str:
    out = captured.readouterr()
    files = "".join(p.read_text() for p in tmp_path.iterdir() if p.is_file())
    return out.out + out.err + files


def test_a_full_run_checks_the_rules_runs_the_target_twice_and_leaves_nothing(
    fake: FakeIntercom, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = smoke(
        fake, tmp_path, "--workspace-name", WORKSPACE, "--allow-new-names", "--allow-merge"
    )

    assert code == 0
    prefix = json.loads((tmp_path / "manifest.json").read_text())["prefix"]
    report = json.loads((tmp_path / "report.json").read_text())
    checks = report["checks"]
    assert checks["duplicates_and_archived"]["duplicate_create"]["messages"] == [
        "A contact matching those details already exists with id=<id>"
    ]
    assert checks["duplicates_and_archived"]["archived_duplicate_create"]["status"] == 409
    assert checks["search_lag"]["found"] is True
    assert checks["search_lag"]["archived_left_search"] is True
    assert checks["lead_external_id"]["status"] == 400  # the fake's stricter reading
    assert checks["merged_contacts"]["merged_get"]["status"] == 410
    assert checks["merged_contacts"]["merged_get"]["link_names_the_user"] is True
    assert checks["list_page_size"]["default"]["per_page"] == 10
    assert checks["list_page_size"]["151"]["status"] == 400
    assert checks["preview_version"]["Preview"]["status"] == 200
    assert checks["rate_limits"]["headers_present"] == [
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ]
    assert [run["exit_code"] for run in report["target_runs"]] == [0, 0]
    assert report["target_runs"][0]["streams"]["users"]["created"] == 5
    assert report["second_run_calls"] == {"GET /me": 1}
    assert report["load_in_intercom"] == {"users": 5, "found": 5, "unsubscribed": 5}
    assert checks["email_match_on_create"]["status"] == 409  # the fake's default reading
    assert [checks["event_duplicates"][who]["stored"] for who in ("user", "lead")] == [1, 1]
    assert report["cleanup"]["left"] == []
    # Everything it made is gone; every contact it made was unsubscribed while it lived.
    assert made_by(fake, prefix) == {"contacts": [], "companies": []}
    assert fake.merged_contacts()  # the merged lead, which nothing can delete
    assert all(
        e["state"] != "intended"
        for e in json.loads((tmp_path / "manifest.json").read_text())["entries"]
    )
    assert TOKEN not in written(tmp_path, capsys)


def test_every_contact_it_makes_is_unsubscribed_and_marked_with_the_run(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    code = crash_after(fake, tmp_path, 3)

    assert code == 3
    prefix = json.loads((tmp_path / "manifest.json").read_text())["prefix"]
    contacts = made_by(fake, prefix)["contacts"]
    assert len(contacts) == 3
    assert all(c["unsubscribed_from_emails"] is True for c in contacts)
    assert all(c["custom_attributes"] == {FIXED_ATTRIBUTE: prefix} for c in contacts)


def test_a_crash_mid_run_then_cleanup_from_the_manifest_leaves_nothing(
    fake: FakeIntercom, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crashed = crash_after(fake, tmp_path, 4, "--allow-merge")
    crash_output = capsys.readouterr().err
    prefix = json.loads((tmp_path / "manifest.json").read_text())["prefix"]
    left_by_crash = made_by(fake, prefix)["contacts"]

    cleaned = main(["--workspace-name", WORKSPACE, "--cleanup", str(tmp_path / "manifest.json")])
    again = main(["--workspace-name", WORKSPACE, "--cleanup", str(tmp_path / "manifest.json")])

    assert crashed == 3
    assert len(left_by_crash) == 4
    assert any(c["archived"] for c in left_by_crash)
    assert (cleaned, again) == (0, 0)
    assert made_by(fake, prefix) == {"contacts": [], "companies": []}
    assert "run again with --cleanup" in crash_output
    assert TOKEN not in crash_output + written(tmp_path, capsys)


def test_cleanup_deletes_only_what_its_manifest_names(fake: FakeIntercom, tmp_path: Path) -> None:
    someone_elses = fake.seed_contact(external_id="customer-1", email="c1@example.com")
    crash_after(fake, tmp_path, 2)

    main(["--workspace-name", WORKSPACE, "--cleanup", str(tmp_path / "manifest.json")])

    assert [c["id"] for c in fake.contacts()] == [someone_elses]


@pytest.mark.parametrize(
    "name_args", [["--workspace-name", "Production"], []], ids=["wrong name", "no name"]
)
def test_it_refuses_any_workspace_but_the_one_it_is_told(
    fake: FakeIntercom,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name_args: list[str],
) -> None:
    try:
        code = smoke(fake, tmp_path, *name_args, "--allow-new-names", "--skip-target")
    except SystemExit as exit_:  # argparse: the name is required
        code = int(str(exit_.code))

    assert code == 2
    assert fake.call_counts() == ({"GET /me": 1} if name_args else {})
    assert fake.contacts() == []
    assert [a["name"] for a in fake.data_attributes() if a["custom"]] == []
    assert not (tmp_path / "manifest.json").exists()
    assert not (tmp_path / "report.json").exists()
    err = capsys.readouterr().err
    assert (
        ("'Fake Intercom', not 'Production'" in err) if name_args else ("--workspace-name" in err)
    )
    assert TOKEN not in err


def test_it_checks_the_name_against_get_me_of_a_workspace_named_otherwise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeIntercom(token=TOKEN, openapi_path=OPENAPI_PATH, app_name="Acme (test)") as other:
        refused = smoke(other, tmp_path, "--workspace-name", WORKSPACE, "--skip-target")
        taken = smoke(other, tmp_path, "--workspace-name", "Acme (test)", "--skip-target")

    assert refused == 2
    assert taken == 2  # named right, and refused next for the fixed attribute's creation
    assert "--allow-new-names" in capsys.readouterr().err


def test_cleanup_finds_objects_made_but_never_recorded_by_their_prefixed_keys(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    prefix, now = "smoke-20260101000000-abcd", int(time.time())
    fake.seed_contact(external_id=f"{prefix}-user-1", email=f"{prefix}-user-1@example.com")
    fake.seed_contact(email=f"{prefix}-lead-2@example.com", role="lead")
    fake.seed_company(f"{prefix}-company-1", name="c")
    kept = fake.seed_contact(external_id="customer-1", email="customer-1@example.com")
    entries = [
        {"kind": "contact", "external_id": f"{prefix}-user-1", "email": None, "at": now},
        {
            "kind": "contact",
            "external_id": None,
            "email": f"{prefix}-lead-2@example.com",
            "at": now,
        },
        {"kind": "company", "company_id": f"{prefix}-company-1", "at": now},
        # The run died before these two creates: one long ago, one just now.
        {"kind": "contact", "external_id": f"{prefix}-user-3", "email": None, "at": now - 3600},
        {"kind": "company", "company_id": f"{prefix}-company-2", "at": now},
    ]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "prefix": prefix,
                "api_base_url": fake.url,
                "workspace_name": WORKSPACE,
                "entries": [{**e, "id": None, "state": "intended"} for e in entries],
            }
        )
    )

    code = main(["--workspace-name", WORKSPACE, "--cleanup", str(manifest)])

    assert code == 1  # the company intended just now may still appear: not given up yet
    assert [c["id"] for c in fake.contacts()] == [kept]
    assert fake.companies() == []
    states = [e["state"] for e in json.loads(manifest.read_text())["entries"]]
    assert states == ["deleted", "deleted", "deleted", "never_made", "intended"]


def test_cleanup_refuses_a_manifest_from_another_workspace(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    crash_after(fake, tmp_path, 1)

    code = main(["--workspace-name", "Production", "--cleanup", str(tmp_path / "manifest.json")])

    assert code == 2
    assert len(fake.contacts()) == 1


def test_a_burst_is_only_sent_when_allowed_and_records_the_429(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    args = ("--workspace-name", WORKSPACE, "--allow-new-names", "--skip-target")

    quiet = smoke(fake, tmp_path, *args)
    quiet_report = json.loads((tmp_path / "report.json").read_text())
    fake.configure(rate_limit=60, rate_window=1.0)
    burst = smoke(fake, tmp_path, *args, "--allow-burst", "--burst-calls", "100")
    burst_report = json.loads((tmp_path / "report.json").read_text())

    assert (quiet, burst) == (0, 0)
    assert "skipped" in quiet_report["checks"]["rate_limits"]["burst"]
    recorded = burst_report["checks"]["rate_limits"]["burst"]
    assert recorded["status"] == 429
    assert recorded["messages"] == ["Exceeded rate limit of 60 in 1_seconds"]
    assert 1 <= recorded["calls_until_429"] <= 121  # the burst may straddle two windows
    assert burst_report["checks"]["rate_limits"]["limit"] == 60


def test_the_fake_serves_the_calls_the_smoke_test_makes(fake: FakeIntercom) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    url = str(fake.url)
    user = fake.seed_contact(external_id="u1")
    other = fake.seed_contact(external_id="u2")
    lead = fake.seed_contact(email="lead@example.com", role="lead")
    company = fake.seed_company("c1", name="C")

    def call(method: str, path: str, **kw: Any) -> requests.Response:
        return requests.request(method, url + path, headers=headers, timeout=5, **kw)

    assert call("POST", "/contacts/merge", json={"from": other, "into": user}).status_code == 400
    assert call("POST", "/contacts/merge", json={"from": lead, "into": user}).json()["id"] == user
    assert fake.merged_contacts() == {lead: user}
    assert call("DELETE", f"/companies/{company}").json()["deleted"] is True
    assert call("DELETE", f"/companies/{company}").status_code == 404
    assert fake.companies() == []
    event = {"event_name": "e", "created_at": 1700000000, "user_id": "u1"}
    assert call("POST", "/events", json=event).status_code == 202
    listed = call("GET", "/events", params={"type": "user", "user_id": "u1"}).json()["events"]
    assert [(e["event_name"], e["intercom_user_id"]) for e in listed] == [("e", user)]
    assert call("GET", "/events", params={"user_id": "u1"}).status_code == 400


@pytest.mark.slow
def test_the_search_lag_it_reports_is_the_one_the_workspace_has(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    fake.configure(search_lag=1.0)
    args = ("--workspace-name", WORKSPACE, "--allow-new-names", "--skip-target")

    code = smoke(fake, tmp_path, *args, "--search-wait", "6")
    lag = json.loads((tmp_path / "report.json").read_text())["checks"]["search_lag"]

    assert code == 0
    assert lag["found"] is True and 1.0 <= lag["seconds"] <= 3.0
    # The fake drops an archived contact from search at once; Intercom's lag there is unknown.
    assert (lag["archived_left_search"], lag["archived_left_after_seconds"]) == (True, 0.0)


def test_a_run_killed_mid_call_is_cleaned_up_from_its_manifest(
    fake: FakeIntercom, tmp_path: Path
) -> None:
    gate = fake.hold("POST /contacts/merge")  # the run is killed waiting for this answer
    command = [
        sys.executable,
        "-m",
        "target_intercom.smoke",
        "--workspace-name",
        WORKSPACE,
        "--api-base-url",
        str(fake.url),
        "--manifest",
        str(tmp_path / "manifest.json"),
        "--allow-new-names",
        "--allow-merge",
        "--search-wait",
        "1",
    ]
    env = {**os.environ, "TARGET_INTERCOM_ACCESS_TOKEN": TOKEN}
    with subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE) as run:
        gate.wait_until_held(1, timeout=30)
        run.kill()
        _, err = run.communicate(timeout=30)
    gate.open()
    prefix = json.loads((tmp_path / "manifest.json").read_text())["prefix"]
    left_by_kill = made_by(fake, prefix)["contacts"]

    cleaned = main(["--workspace-name", WORKSPACE, "--cleanup", str(tmp_path / "manifest.json")])

    assert run.returncode == -signal.SIGKILL
    # Killed while the merge's answer was held: the merge was applied, its answer never read.
    assert len(left_by_kill) == 3 and len(fake.merged_contacts()) == 1
    assert cleaned == 0
    assert made_by(fake, prefix) == {"contacts": [], "companies": []}
    assert TOKEN not in err.decode()
