"""Running a scenario, or a re-sync chain, into checked rows.

Every run of the target is started from a fresh helper interpreter (`run_isolated` says
why: a long-lived parent would lend its peak RSS to every later row), and every row is
checked against the fake before it is trusted, because a fast run that lost records
would otherwise read as a good one.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from checks import check_landed, links_held
from inputs import ORDER_REFERENCE, ORDER_TYPE, Input, InputKey, write_input
from processes import TOKEN, FakeServer, fake_state, run_measured, tail
from rows import Result, input_notes, rate_ceiling
from scenarios import Scenario, describe

NOOP_TARGET = Path(__file__).resolve().parent / "noop_target.py"
# The sync store's file in a scenario's directory.
STORE_FILE = "sync.db"


def run_all(chosen: list[Scenario], concurrency: int, *, baseline_reference: int) -> list[Result]:
    """Every chosen scenario, in order, with its inputs written once into one temporary
    directory: rows that share an input read the same file, and nothing of a run outlives
    the benchmark. `baseline_reference` is the records of the row the baseline is compared
    with, which it may not match.
    """
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-intercom-") as tmp:
        directory = Path(tmp)
        inputs: dict[InputKey, Input] = {}  # some inputs serve two rows

        for scenario in chosen:
            workers = scenario.max_concurrency or concurrency
            print(f"running {describe(scenario, workers)}", file=sys.stderr, flush=True)
            for _, key in scenario.runs:
                if key not in inputs:
                    inputs[key] = write_input(directory, *key)
            if scenario.chain:
                runs = [(row, inputs[key]) for row, key in scenario.runs]
                rows = run_chain(scenario, workers, runs, directory)
            else:
                rows = [run_isolated(scenario, workers, inputs[scenario.input_key], directory)]
            for result in rows:
                if result.scenario == "baseline-c1-100ms" and result.records != baseline_reference:
                    result.notes.append(
                        f"{result.records:,} users, not {baseline_reference:,}: compare records/s"
                    )
                if not result.ok:
                    print(f"  {result.scenario}: {'; '.join(result.notes)}", file=sys.stderr)
            results.extend(rows)

    return results


def run_isolated(
    scenario: Scenario,
    concurrency: int,
    data: Input,
    directory: Path,
    row: str | None = None,
    fake_url: str | None = None,
    calls_before: int = 0,
) -> Result:
    """Runs one scenario (or one run of a chain) in a fresh interpreter started for it alone.

    Linux gives an exec'd child a peak RSS of at least the peak of the process it was
    started from, and this script grows while it reads the fake's state (200,000
    contacts are a gigabyte as Python objects): every target started after that would
    report this script's peak as its own. A spawned helper is small when it starts the
    target, so `ru_maxrss` is the target's, and this process never holds a state at all.
    A chain's runs each get a helper of their own for the same reason: the one that read
    the state after the first load must not start the re-sync.
    """
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as helper:
        return helper.submit(
            run_scenario, scenario, concurrency, data, directory, row, fake_url, calls_before
        ).result()


def run_chain(
    scenario: Scenario, concurrency: int, runs: list[tuple[str, Input]], directory: Path
) -> list[Result]:
    """A re-sync: the target runs after run against ONE fake (started here, so that it
    outlives the helpers) and the one sync store in the scenario's directory, each run a
    row. A run that fails ends the chain: what follows it would measure nothing."""
    results: list[Result] = []
    calls_before = 0
    workdir = scenario_dir(directory, scenario.name)
    with FakeServer(scenario, workdir) as fake:
        for row, data in runs:
            if row == f"{scenario.name}-cold":
                # A lost store, as a new runner or a deleted file has it: the SQLite file
                # and its write-ahead companions (README: "Resetting it").
                for name in (STORE_FILE, f"{STORE_FILE}-wal", f"{STORE_FILE}-shm"):
                    (workdir / name).unlink(missing_ok=True)
            result = run_isolated(
                scenario, concurrency, data, directory, row, fake.url, calls_before
            )
            results.append(result)
            if not result.ok or result.fake_calls is None:
                break
            calls_before += result.fake_calls
    return results


def scenario_dir(directory: Path, name: str) -> Path:
    """The scenario's own directory: its config, logs, fake output, and sync store, and the
    target's working directory, so that no two scenarios share the store's default file."""
    path = directory / name
    path.mkdir(exist_ok=True)
    return path


def run_scenario(
    scenario: Scenario,
    concurrency: int,
    data: Input,
    directory: Path,
    row: str | None = None,
    fake_url: str | None = None,
    calls_before: int = 0,
) -> Result:
    """One run of the target (or the no-op target) on `data`, measured and checked.

    `fake_url` is a chain's fake, which holds what the runs before this one wrote (they
    made `calls_before` calls to it); without it the run gets a fake of its own.
    """
    name = row or scenario.name
    workdir = scenario_dir(directory, scenario.name)
    if scenario.noop and not scenario.noop_calls:
        return run_noop(scenario, data, workdir)

    with contextlib.ExitStack() as stack:
        url = fake_url or stack.enter_context(FakeServer(scenario, workdir)).url
        config_path = workdir / f"{name}.config.json"
        if scenario.noop:
            # validate_records is singer-sdk's default; set here so that the floor surely
            # validates as the target does.
            config: dict[str, Any] = {
                "validate_records": True,
                "call_base_url": url,
                "call_token": TOKEN,
            }
            command = [sys.executable, str(NOOP_TARGET), "--config", str(config_path)]
        else:
            config = {
                "access_token": TOKEN,
                "api_base_url": url,
                "unknown_attributes": "create",
                "max_concurrency": concurrency,
                "validate_records": True,
                # Its own store: a chain's runs share it, no two scenarios do.
                "sync_store_path": str(workdir / STORE_FILE),
            }
            if scenario.kind == "orders":
                config["custom_objects"] = {
                    "orders": {"type": ORDER_TYPE, "reference_attribute": ORDER_REFERENCE}
                }
            command = [sys.executable, "-m", "target_intercom", "--config", str(config_path)]
        config_path.write_text(json.dumps(config))
        measured = run_measured(command, data.path, workdir, name)
        workspace = fake_state(url) if measured.returncode == 0 else {}

    stderr = (workdir / f"{name}.err").read_text()
    summary = summary_of(stderr) or {}
    load_s = float(summary.get("elapsed_seconds") or measured.wall_s)
    counted = workspace.get("call_counts") or {}
    result = Result(
        scenario=name,
        records=data.records,
        max_concurrency=1 if scenario.noop else concurrency,
        latency_s=scenario.latency,
        rate_limit=(
            f"{scenario.rate_limit}/{scenario.rate_window:g}s" if scenario.rate_limit else None
        ),
        wall_s=measured.wall_s,
        load_s=load_s,
        cpu_s=measured.cpu_s,
        cpu_sys_s=measured.cpu_sys_s,
        peak_rss_mb=measured.peak_rss_mb,
        api_calls=summary.get("api_calls_total"),
        rate_limited=summary.get("rate_limited"),
        retries=summary.get("retries"),
        clock_skew_s=scenario.clock_skew,
        streams=dict(data.expected),
        companies_on_users=data.companies_on_users,
        calls_by_endpoint=dict(summary.get("api_calls") or {}),
        records_unchanged=summary.get("records_unchanged"),
        renamed=data.renamed,
        fake_calls=sum(counted.values()) - calls_before if counted else None,
        changed_rows=data.changed_rows,
        links_expected=len(data.links),
        links_held=links_held(data.links, workspace) if data.links and workspace else None,
    )
    if measured.returncode != 0:
        result.ok = False
        result.notes.append(f"FAILED (exit {measured.returncode}): {tail(stderr, 2)}")
        return result
    if scenario.noop:
        # No SUMMARY: its calls are the fake's count, all of them the one per record.
        result.api_calls, result.calls_by_endpoint = result.fake_calls, dict(counted)
        result.notes.append("singer-sdk plus one bare requests.Session call per record")
    elif not summary:
        result.ok = False
        result.notes.append("no SUMMARY line in the target's log")
        return result
    result.notes.extend(input_notes(scenario, data, result, name))
    problems = check_landed(data, workspace, workdir / f"{name}.out")
    if scenario.chain and result.fake_calls != result.api_calls:
        # The Targets of a re-sync are its calls: the SUMMARY must count what was sent.
        problems.append(
            f"CALLS: the fake counted {result.fake_calls}, the SUMMARY {result.api_calls}"
        )
    result.notes.extend(problems)
    result.ok = not problems
    # A deliberate hang says nothing about pacing; nor does a re-sync of a few calls (a
    # chain's first load is a load like any other).
    resync = bool(scenario.chain) and name != f"{scenario.name}-first"
    if not (scenario.slow_call_every or resync or scenario.noop):
        rate_ceiling(result, scenario, concurrency, measured.ended_at)
    return result


def run_noop(scenario: Scenario, data: Input, workdir: Path) -> Result:
    """bench/noop_target.py alone, with no fake: singer-sdk's own floor."""
    config_path = workdir / f"{scenario.name}.config.json"
    # The SDK's default, set here so that the floor surely validates as the target does.
    config_path.write_text(json.dumps({"validate_records": True}))
    measured = run_measured(
        [sys.executable, str(NOOP_TARGET), "--config", str(config_path)],
        data.path,
        workdir,
        scenario.name,
    )
    result = Result(
        scenario=scenario.name,
        records=data.records,
        max_concurrency=0,
        latency_s=0.0,
        rate_limit=None,
        wall_s=measured.wall_s,
        load_s=measured.wall_s,
        cpu_s=measured.cpu_s,
        cpu_sys_s=measured.cpu_sys_s,
        peak_rss_mb=measured.peak_rss_mb,
        notes=["singer-sdk alone: reads, validates and drops the same input"],
    )
    if measured.returncode != 0:
        stderr = (workdir / f"{scenario.name}.err").read_text()
        result.ok = False
        result.notes.append(f"FAILED (exit {measured.returncode}): {tail(stderr, 2)}")
    return result


def summary_of(stderr: str) -> dict[str, Any] | None:
    """The target's last `SUMMARY: {json}` log line: its own count of calls, 429s and
    retries, and its load time, which leaves out the interpreter's start that no
    concurrency can shorten (the ratio is taken over that load time)."""
    for line in reversed(stderr.splitlines()):
        _, marker, rest = line.partition("SUMMARY: ")
        if marker:
            summary: dict[str, Any] = json.loads(rest)
            return summary
    return None
