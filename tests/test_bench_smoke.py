"""The benchmark still runs end to end: `bench/run.py --smoke`, ~50 records per scenario.

It proves nothing about speed (that is the full run's job, see bench/README.md); it
keeps the script, the fake's command line and the target's SUMMARY line in step, so
the README's "Performance" table can always be reproduced.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = (
    "users-5k-100ms",
    "b2b-5k-100ms",
    "users-5k-ratelimited",
    "mixed-5k",
    "out-of-order-5k",
    "users-5k-0ms",
    "users-200k-0ms",
    "sdk-noop-200k",
    "baseline-c1-100ms",
    "state-storm",
    "schema-churn",
    "ratelimited-local-ahead-1s",
    "ratelimited-local-ahead-30s",
    "ratelimited-local-ahead-1h",
    "ratelimited-local-behind-1h",
)
TARGETS = (
    "rate-limited",
    "latency-bound",
    "vs baseline (records/s)",
    "CPU/record vs sdk no-op",
    "peak RSS 200k vs 5k",
    "STATE storm peak RSS",
    "schema churn peak RSS",
    "skew local-ahead-1s",
    "skew local-ahead-30s",
    "skew local-ahead-1h",
    "skew local-behind-1h",
    "B2B latency-bound",
    "B2B calls",
    "out-of-order extra calls",
)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_bench_smoke_prints_every_scenario_and_target(tmp_path: Path) -> None:
    results_path = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--json", str(results_path)],
        capture_output=True,
        text=True,
        timeout=170,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    assert set(SCENARIOS) <= rows, done.stdout
    for name in TARGETS:
        assert name in done.stdout
    results = json.loads(results_path.read_text())["results"]
    assert [r["scenario"] for r in results] == list(SCENARIOS)
    assert all(r["ok"] and r["records"] > 0 and r["cpu_s"] > 0 for r in results)
    # Every scenario against the fake logged its SUMMARY and made at least a call a record.
    assert all(r["calls_per_record"] >= 1 for r in results if r["scenario"] != "sdk-noop-200k")
    # The storm, the churn, the skews, the B2B companies and the stream order reached the
    # input and the fake (every membership is checked, or the row would not be ok).
    by_name = {r["scenario"]: r for r in results}
    assert "3,000 STATEs" in by_name["state-storm"]["notes"]
    assert "50 schema changes" in by_name["schema-churn"]["notes"]
    assert by_name["ratelimited-local-ahead-1s"]["clock_skew_s"] == -1.0
    assert by_name["ratelimited-local-behind-1h"]["clock_skew_s"] == 3600.0
    assert "50 users of 10 companies" in by_name["b2b-5k-100ms"]["notes"]
    assert by_name["b2b-5k-100ms"]["companies_on_users"] == 10
    assert "5 companies, 20 events, 25 users, in that order" in by_name["out-of-order-5k"]["notes"]
    assert by_name["out-of-order-5k"]["streams"] == by_name["mixed-5k"]["streams"]
