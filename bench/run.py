"""Benchmark of target-intercom against the bundled fake Intercom.

Each scenario starts the fake in its own process (so its CPU is not ours), writes N
generated Singer messages to a file, runs the real `target-intercom` command on it,
and measures what a user would: wall time, the target process's own CPU time and
peak memory (from `os.wait4`), its calls per record and 429s (the `SUMMARY:` line it
logs), and whether every record landed in the fake. A re-sync chain (`resync-5k`,
`resync-200k`) runs the target several times against one fake and one sync store, a row
per run. It then prints one row per run and the issue's Targets as ratios within this
one run, because this machine is shared and noisy: absolute numbers move between runs,
ratios much less.

    .venv/bin/python bench/run.py               # every scenario, ~25 minutes
    .venv/bin/python bench/run.py --smoke       # ~50 records each, what CI runs
    .venv/bin/python bench/run.py --only users-5k-0ms --markdown

See bench/README.md for what each scenario measures and how to read the table.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
NOOP_TARGET = Path(__file__).resolve().parent / "noop_target.py"
TOKEN = "bench-token-not-a-real-secret"
STATE_EVERY = 1000
SMOKE_RECORDS = 50
# The baseline makes one call at a time, 100 ms each: 50 records would wait 5 s for nothing.
SMOKE_BASELINE_RECORDS = 10
DEFAULT_BASELINE_RECORDS = 1000
# A scenario that takes longer than this is stuck, not slow: the full run fits in ~20 min.
SCENARIO_TIMEOUT_SECONDS = 1800.0
FAKE_START_TIMEOUT_SECONDS = 60.0
# The fake draws its faults from a seeded RNG: the same seed picks the same calls (by
# their order of arrival) in every run.
SLOW_CALL_SEED = 1

# The rate-limited scenario again with the fake's clock off from the target's: name ->
# the fake's --clock-skew (its clock ahead of ours). The names say where the LOCAL clock
# is, as a user would describe their machine: a fake 1 s behind is a local clock 1 s ahead.
SKEWED = {
    "ratelimited-local-ahead-1s": -1.0,
    "ratelimited-local-ahead-30s": -30.0,
    "ratelimited-local-ahead-1h": -3600.0,
    "ratelimited-local-behind-1h": 3600.0,
}
# Every skewed row must keep this share of the unskewed row's ratio (and stay under 1 %
# 429s, as it does): "a skew of up to an hour changes nothing measurable".
SKEW_RATIO_GOAL = 0.95

# b2b-5k-100ms: the users' nested companies, and the calls allowed for what a run does
# whatever its input (GET /me, GET /data_attributes, creating the users' two custom
# attributes, and since the sync store the workspace index's GET /contacts?per_page=1: 5).
B2B_COMPANIES = 10
PER_RUN_CALLS = 5
# Endpoints a run calls a fixed number of times, whatever its input's size.
PER_RUN_ENDPOINTS = frozenset({"GET /me", "GET /data_attributes", "GET /contacts"})

# The re-sync chains: the "changed" run renames one user in this many (2 %), spread over the
# whole input (users 25, 75, 125, ...), as a day's edits to a table are.
CHANGED_EVERY = 50
# An unchanged re-sync may make at most this share of its first load's calls; a changed row
# at most this many calls more than the unchanged re-sync (its PUT /contacts/{id}).
RESYNC_CALLS_SHARE_GOAL = 0.02
CALLS_PER_CHANGED_ROW_GOAL = 1.0

STRING = {"type": ["string", "null"]}
INTEGER = {"type": ["integer", "null"]}
PLANS = ("free", "pro", "enterprise")


# --------------------------------------------------------------------------- scenarios


# (kind, records, states_per_record, schema_every, changed_every): one generated input file.
InputKey = tuple[str, int, int, int, int]


@dataclass(frozen=True)
class Scenario:
    """One row of the table: an input, the fake's behaviour, and the target's concurrency."""

    name: str
    kind: str  # "users", "b2b", "mixed" or "out-of-order": which generator writes the input
    records: int
    latency: float  # seconds the fake waits before each answer
    rate_limit: int | None = None  # calls allowed per rate_window, None for no limit
    rate_window: float = 10.0
    max_concurrency: int | None = None  # None: the benchmark's concurrency (the default)
    noop: bool = False  # run bench/noop_target.py instead of target-intercom (no fake)
    # Seconds the fake's clock runs ahead of the target's (negative: behind), as the fake's
    # --clock-skew counts it. A positive skew is a LOCAL clock behind Intercom's.
    clock_skew: float = 0.0
    # > 0: this many distinct STATEs after every record, instead of one every 1,000.
    states_per_record: int = 0
    # > 0: a changed users SCHEMA before every `schema_every`-th record.
    schema_every: int = 0
    # > 0: one POST /contacts call in `slow_call_every` (drawn by the fake from a fixed
    # seed) gets no answer for `slow_call_s` seconds (the fake's `timeout` fault); then the
    # fake closes the connection and the target retries the call.
    slow_call_every: int = 0
    slow_call_s: float = 3.0
    # With `noop`: the no-op target also makes one bare POST /contacts per record to a fake
    # of its own (one requests.Session, one call at a time): the floor of a record that
    # costs one HTTPS call.
    noop_calls: bool = False
    # A re-sync chain: these runs, in order, against ONE fake and ONE sync store, each a row
    # of its own (`{name}-{run}`): "first" loads the input into an empty store, "unchanged"
    # runs the identical input again, "changed" the input with one user in CHANGED_EVERY
    # renamed.
    chain: tuple[str, ...] = ()

    @property
    def input_key(self) -> InputKey:
        """Scenarios with the same key read the same generated file."""
        return (self.kind, self.records, self.states_per_record, self.schema_every, 0)

    @property
    def runs(self) -> list[tuple[str, InputKey]]:
        """(row, input) of each run of the target: one, or one per step of a chain."""
        if not self.chain:
            return [(self.name, self.input_key)]
        kind, records, states, schemas, _ = self.input_key
        changed = {"changed": CHANGED_EVERY}
        return [
            (f"{self.name}-{step}", (kind, records, states, schemas, changed.get(step, 0)))
            for step in self.chain
        ]


def scenarios(*, scale: float, smoke: bool, baseline_records: int) -> list[Scenario]:
    """The issue's scenarios, with every N scaled (or tiny under --smoke)."""

    def n(records: int) -> int:
        return SMOKE_RECORDS if smoke else max(1, round(records * scale))

    return [
        Scenario("users-5k-100ms", "users", n(5_000), latency=0.1),
        Scenario("b2b-5k-100ms", "b2b", n(5_000), latency=0.1),
        Scenario("users-5k-ratelimited", "users", n(5_000), latency=0.02, rate_limit=1_000),
        Scenario("mixed-5k", "mixed", n(5_000), latency=0.1),
        Scenario("out-of-order-5k", "out-of-order", n(5_000), latency=0.1),
        Scenario("users-5k-0ms", "users", n(5_000), latency=0.0),
        Scenario("sdk-noop+call-5k", "users", n(5_000), latency=0.0, noop=True, noop_calls=True),
        Scenario("users-200k-0ms", "users", n(200_000), latency=0.0),
        Scenario("sdk-noop-200k", "users", n(200_000), latency=0.0, noop=True),
        Scenario(
            "baseline-c1-100ms",
            "users",
            SMOKE_BASELINE_RECORDS if smoke else n(baseline_records),
            latency=0.1,
            max_concurrency=1,
        ),
        Scenario(
            "state-storm",
            "users",
            n(5_000),
            latency=0.02,
            states_per_record=60,
            slow_call_every=1_000,
            slow_call_s=3.0,
        ),
        Scenario("schema-churn", "users", n(15_000), latency=0.0, schema_every=1),
        *(
            Scenario(name, "users", n(5_000), latency=0.02, rate_limit=1_000, clock_skew=skew)
            for name, skew in SKEWED.items()
        ),
        # 20 ms: every call a re-sync still makes costs a round trip, as against Intercom,
        # while the first load stays near its CPU bound (32 workers allow 1,600 calls/s).
        Scenario(
            "resync-5k", "users", n(5_000), latency=0.02, chain=("first", "unchanged", "changed")
        ),
        Scenario("resync-200k", "users", n(200_000), latency=0.0, chain=("first", "unchanged")),
    ]


# --------------------------------------------------------------------------- input


def users_schema() -> dict[str, Any]:
    return {
        "type": "SCHEMA",
        "stream": "users",
        "key_properties": ["id"],
        "schema": {
            "type": "object",
            "properties": {
                "id": STRING,
                "email": STRING,
                "name": STRING,
                "plan": STRING,  # custom attribute (string)
                "seats": INTEGER,  # custom attribute (integer)
            },
        },
    }


def user(i: int, changed_every: int = 0) -> dict[str, Any]:
    """The i-th user; with `changed_every`, one in that many has a new name (a re-sync's
    changed rows)."""
    return {
        "id": f"u{i:07d}",
        "email": f"user{i}@bench.example",
        "name": f"User {i} (renamed)" if is_renamed(i, changed_every) else f"User {i}",
        "plan": PLANS[i % len(PLANS)],
        "seats": i % 50 + 1,
    }


def is_renamed(i: int, changed_every: int) -> bool:
    """Users 25, 75, 125, ... for one in 50: spread over the input, none among the first."""
    return bool(changed_every) and i % changed_every == changed_every // 2


def b2b_users_schema() -> dict[str, Any]:
    """The users SCHEMA with the nested `company` object of a B2B table."""
    message = users_schema()
    message["schema"]["properties"]["company"] = {
        "type": ["object", "null"],
        "properties": {"id": STRING, "name": STRING, "plan": STRING},
    }
    return message


def b2b_user(i: int) -> dict[str, Any]:
    """A user of company `c{i % 10}`: the companies' users interleave, as rows ordered by
    user do, so users of one company are on the wire side by side."""
    k = i % B2B_COMPANIES
    return {**user(i), "company": {"id": f"c{k}", "name": f"Company {k}", "plan": PLANS[k % 3]}}


def mixed_schemas() -> list[dict[str, Any]]:
    return [
        users_schema(),
        {
            "type": "SCHEMA",
            "stream": "companies",
            "key_properties": ["company_id"],
            "schema": {
                "type": "object",
                "properties": {
                    "company_id": STRING,
                    "name": STRING,
                    "tier": STRING,  # custom attribute
                    "user_ids": {"type": ["array", "null"], "items": {"type": "string"}},
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
                    "event": STRING,
                    "user_id": STRING,
                    "created_at": {"type": ["string", "null"], "format": "date-time"},
                    "properties": {
                        "type": ["object", "null"],
                        "properties": {"plan": STRING, "page": STRING},
                    },
                },
            },
        },
    ]


def mixed_records() -> Iterator[tuple[str, dict[str, Any]]]:
    """Blocks of 10: 5 new users, 1 company listing 2 of them, 4 events of the others.

    Companies and events name users of their own block, so they wait on those users'
    upserts (ordering keys) the way a real mixed load does.
    """
    block = 0
    while True:
        first = block * 5
        for i in range(first, first + 5):
            yield "users", user(i)
        yield (
            "companies",
            {
                "company_id": f"c{block:06d}",
                "name": f"Company {block}",
                "tier": PLANS[block % len(PLANS)],
                "user_ids": [user(first)["id"], user(first + 1)["id"]],
            },
        )
        for i in range(first + 1, first + 5):
            yield (
                "events",
                {
                    "event": "signed_in",
                    "user_id": user(i)["id"],
                    # Distinct per event: Intercom drops an event repeating contact, name and time.
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1.7e9 + i)),
                    "properties": {"plan": PLANS[i % len(PLANS)], "page": f"/p/{i % 7}"},
                },
            )
        block += 1


def in_stream_order(records: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """`mixed_records`' first `records` records, stream by stream in alphabetical order, as
    tap-postgres emits them: companies, then events, then users. Every company and event
    names users that only come later."""
    held = list(itertools.islice(mixed_records(), records))
    held.sort(key=lambda item: item[0])  # stable: each stream keeps its own order
    return iter(held)


@dataclass(frozen=True)
class Input:
    """A generated message file and what it should leave in the fake."""

    path: Path
    records: int
    expected: dict[str, int]  # stream -> records of it
    final_state: dict[str, Any]
    # (user id, company_id): every user attached to every company it should be, whether a
    # companies record lists it in `user_ids` or its own record carries the company.
    memberships: tuple[tuple[str, str], ...] = ()
    # Companies named only on user records (B2B), which land besides the companies stream's.
    companies_on_users: int = 0
    # > 0: one user in this many has a changed name (`user`), which the fake must then hold.
    changed_every: int = 0
    renamed: int = 0  # users of the input with a changed name


def churned_users_schema(revision: int) -> dict[str, Any]:
    """The users SCHEMA, changed: `name` gets a new description in every revision.

    Only a description changes, so every record stays valid under every revision and the
    target maps it as before (no property appears that it would create an attribute for),
    while singer-sdk sees a schema different from the last one and retires the stream's
    sink for a new one.
    """
    message = users_schema()
    properties = message["schema"]["properties"]
    properties["name"] = {**STRING, "description": f"full name (schema revision {revision})"}
    return message


def storm_state(record: int, n: int) -> dict[str, Any]:
    """The n-th STATE after a record: each one distinct, as a tap's bookmarks would be."""
    return {"bookmarks": {"users": {"replication_key_value": record, "n": n}}}


def write_input(
    directory: Path,
    kind: str,
    records: int,
    states_per_record: int = 0,
    schema_every: int = 0,
    changed_every: int = 0,
) -> Input:
    """SCHEMAs, then RECORDs with a STATE every 1,000 records and one after the last.

    `states_per_record` > 0 writes that many distinct STATEs after every record instead;
    `schema_every` > 0 re-sends the users SCHEMA, changed, before every so many records;
    `changed_every` > 0 renames one user in that many (users only).
    `out-of-order` writes each stream's SCHEMA before its first record and a STATE at the
    end of each stream, as tap-postgres does.
    """
    path = directory / (
        f"{kind}-{records}-s{states_per_record}-c{schema_every}-r{changed_every}.jsonl"
    )
    expected: dict[str, int] = {}
    memberships: list[tuple[str, str]] = []
    companies_on_users: set[str] = set()
    source: Iterator[tuple[str, dict[str, Any]]]
    if kind == "users":
        schemas = [users_schema()]
        source = (("users", user(i, changed_every)) for i in range(records))
    elif kind == "b2b":
        schemas = [b2b_users_schema()]
        source = (("users", b2b_user(i)) for i in range(records))
    elif kind == "out-of-order":
        schemas = mixed_schemas()
        source = in_stream_order(records)
    else:
        schemas = mixed_schemas()
        source = mixed_records()
    state: dict[str, Any] = {}
    last_stream = ""
    dumps = json.dumps
    by_stream = kind == "out-of-order"
    with path.open("w") as out:
        for message in [] if by_stream else schemas:
            out.write(dumps(message) + "\n")
        for count in range(1, records + 1):
            stream, record = next(source)
            expected[stream] = expected.get(stream, 0) + 1
            if by_stream and stream != last_stream:
                if last_stream and (count - 1) % STATE_EVERY:  # unless one was just written
                    state = {"bookmarks": {"bench": {"records": count - 1}}}
                    out.write(dumps({"type": "STATE", "value": state}) + "\n")
                out.write(dumps(next(m for m in schemas if m["stream"] == stream)) + "\n")
            last_stream = stream
            if stream == "companies":
                memberships += ((u, record["company_id"]) for u in record["user_ids"])
            elif record.get("company"):
                memberships.append((record["id"], record["company"]["id"]))
                companies_on_users.add(record["company"]["id"])
            if schema_every and count % schema_every == 0:
                out.write(dumps(churned_users_schema(count)) + "\n")
            out.write(dumps({"type": "RECORD", "stream": stream, "record": record}) + "\n")
            if states_per_record:
                for n in range(states_per_record):
                    state = storm_state(count, n)
                    out.write(dumps({"type": "STATE", "value": state}) + "\n")
            elif count % STATE_EVERY == 0 or count == records:
                state = {"bookmarks": {"bench": {"records": count}}}
                out.write(dumps({"type": "STATE", "value": state}) + "\n")
    renamed = sum(is_renamed(i, changed_every) for i in range(records)) if kind == "users" else 0
    return Input(
        path,
        records,
        expected,
        state,
        tuple(memberships),
        len(companies_on_users),
        changed_every if renamed else 0,
        renamed,
    )


# --------------------------------------------------------------------------- processes


class FakeServer:
    """`python -m fake_intercom` in its own process, for the length of a scenario."""

    def __init__(self, scenario: Scenario, directory: Path) -> None:
        self.scenario = scenario
        self._out_path = directory / f"{scenario.name}.fake.out"
        self._err_path = directory / f"{scenario.name}.fake.err"
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def __enter__(self) -> FakeServer:
        command = [
            sys.executable,
            "-m",
            "fake_intercom",
            "--port",
            "0",
            "--token",
            TOKEN,
            "--latency",
            str(self.scenario.latency),
            "--no-validate",
        ]
        if self.scenario.rate_limit is not None:
            command += [
                "--rate-limit",
                str(self.scenario.rate_limit),
                "--rate-window",
                str(self.scenario.rate_window),
            ]
        if self.scenario.clock_skew:
            command += ["--clock-skew", str(self.scenario.clock_skew)]
        if self.scenario.slow_call_every:
            command += [
                "--fault-rate",
                str(1 / self.scenario.slow_call_every),
                "--fault-kinds",
                "timeout",
                "--fault-paths",
                "POST /contacts",
                "--fault-timeout",
                str(self.scenario.slow_call_s),
                "--fault-seed",
                str(SLOW_CALL_SEED),
            ]
        # Files, not pipes: nobody reads the fake's output while the target runs, and a
        # full pipe would stall it.
        with self._out_path.open("wb") as out, self._err_path.open("wb") as err:
            self._process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT)
        self.url = self._wait_for_url()
        return self

    def _wait_for_url(self) -> str:
        """The `{"url": ...}` line the fake prints once it listens."""
        assert self._process is not None
        deadline = time.monotonic() + FAKE_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            text = self._out_path.read_text()
            if "\n" in text:
                return str(json.loads(text.splitlines()[0])["url"]).rstrip("/")
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"the fake Intercom did not start: {tail(self._err_path.read_text(), 5)}"
        )

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Measured:
    """One process run, measured from outside it."""

    returncode: int
    wall_s: float
    ended_at: float  # time.time() when it exited: the fake's rate windows are wall-clock
    cpu_s: float  # user + system time of that process alone
    cpu_sys_s: float  # the system part: syscalls, socket I/O, thread wake-ups
    peak_rss_mb: float


def run_measured(command: list[str], stdin: Path, directory: Path, name: str) -> Measured:
    """Runs a command with stdin from a file, its output to files, and its own rusage.

    `os.wait4` reports the usage of exactly this child, so neither the fake nor this
    script (both other processes) count in its CPU time or memory.
    """
    with (
        stdin.open("rb") as source,
        (directory / f"{name}.out").open("wb") as out,
        (directory / f"{name}.err").open("wb") as err,
    ):
        started = time.monotonic()
        process = subprocess.Popen(command, stdin=source, stdout=out, stderr=err, cwd=directory)
        watchdog = threading.Timer(SCENARIO_TIMEOUT_SECONDS, process.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.monotonic() - started
        ended_at = time.time()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        returncode=process.returncode,
        wall_s=wall,
        ended_at=ended_at,
        cpu_s=usage.ru_utime + usage.ru_stime,
        cpu_sys_s=usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
    )


def default_max_concurrency() -> int:
    """The target's own default, as `--about` shows it, so the table follows the code."""
    about = subprocess.run(
        [sys.executable, "-m", "target_intercom", "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return int(json.loads(about.stdout)["settings"]["properties"]["max_concurrency"]["default"])


def summary_of(stderr: str) -> dict[str, Any] | None:
    """The target's last `SUMMARY: {json}` log line."""
    for line in reversed(stderr.splitlines()):
        _, marker, rest = line.partition("SUMMARY: ")
        if marker:
            return json.loads(rest)
    return None


def fake_state(url: str) -> dict[str, Any]:
    """The fake's whole workspace and its call counts (`GET /_fake/state`)."""
    with urllib.request.urlopen(f"{url}/_fake/state", timeout=300) as response:
        return json.loads(response.read())


def tail(text: str, lines: int) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


# --------------------------------------------------------------------------- ceilings


def allowed_calls(
    start: float, end: float, per_second: float, limit: int | None, window: float
) -> float:
    """The most calls any client could finish between two wall-clock times.

    Without a limit that is the latency bound (`max_concurrency / latency` per second)
    times the time. With one, Intercom's windows are fixed (they reset at multiples of
    the window, as X-RateLimit-Reset says), so a nominal "calls per second" is wrong for
    a run a few windows long: a client may spend a whole window's budget in its first
    second. Summing, window by window, the smaller of the limit and the latency bound
    over the part of the window the run covers is the ceiling a perfect client reaches.
    """
    if limit is None:
        return per_second * (end - start)
    total = 0.0
    window_start = math.floor(start / window) * window
    while window_start < end:
        covered = min(end, window_start + window) - max(start, window_start)
        total += min(float(limit), per_second * covered)
        window_start += window
    return total


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    """One scenario's measurements, as printed and as written by --json."""

    scenario: str
    records: int
    max_concurrency: int
    latency_s: float
    rate_limit: str | None
    wall_s: float
    load_s: float  # the target's own elapsed_seconds: the wall time minus its start-up
    cpu_s: float
    cpu_sys_s: float
    peak_rss_mb: float
    api_calls: int | None = None
    rate_limited: int | None = None
    retries: int | None = None
    ceiling_calls_s: float | None = None
    ratio: float | None = None
    clock_skew_s: float = 0.0  # the fake's clock ahead of the target's (--clock-skew)
    streams: dict[str, int] = field(default_factory=dict)  # records of each stream
    companies_on_users: int = 0  # companies named only on user records (B2B)
    calls_by_endpoint: dict[str, int] = field(default_factory=dict)  # the SUMMARY's api_calls
    records_unchanged: int | None = None  # the SUMMARY's: records that needed no call
    renamed: int = 0  # users of the input with a changed name (a re-sync's changed rows)
    # Calls the fake itself counted during this run: a witness besides the target's SUMMARY.
    fake_calls: int | None = None
    ok: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def records_s(self) -> float:
        return self.records / self.wall_s if self.wall_s else 0.0

    @property
    def calls_per_record(self) -> float | None:
        return None if self.api_calls is None else self.api_calls / self.records

    @property
    def rate_limited_pct(self) -> float | None:
        if self.rate_limited is None or not self.api_calls:
            return None
        return 100.0 * self.rate_limited / self.api_calls

    @property
    def cpu_us_record(self) -> float:
        return 1e6 * self.cpu_s / self.records

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            records_s=self.records_s,
            calls_per_record=self.calls_per_record,
            rate_limited_pct=self.rate_limited_pct,
            cpu_us_record=self.cpu_us_record,
        )
        return data


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
    with FakeServer(scenario, scenario_dir(directory, scenario.name)) as fake:
        for row, data in runs:
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
                "sync_store_path": str(workdir / "sync.db"),
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
    # A deliberate hang says nothing about pacing; nor does a re-sync of a few calls.
    if not (scenario.slow_call_every or scenario.chain or scenario.noop):
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


def input_notes(scenario: Scenario, data: Input, result: Result, row: str) -> list[str]:
    """What sets a scenario's input or fake apart from the plain ones."""
    notes = []
    step = row.removeprefix(f"{scenario.name}-") if scenario.chain else ""
    if step == "first":
        notes.append("first load, into an empty sync store")
    elif step:
        notes.append("again, with the same sync store")
        if data.renamed:
            notes.append(f"1 user in {data.changed_every} renamed ({data.renamed:,})")
        notes.append(f"{result.records_unchanged or 0:,} unchanged")
        notes.append(f"calls: {endpoint_counts(result.calls_by_endpoint)}")
    if scenario.kind in ("mixed", "out-of-order"):
        streams = ", ".join(f"{n:,} {stream}" for stream, n in sorted(data.expected.items()))
        notes.append(streams + (", in that order" if scenario.kind == "out-of-order" else ""))
    if data.companies_on_users:
        notes.append(
            f"{data.expected.get('users', 0):,} users of {data.companies_on_users:,} companies"
        )
    if scenario.states_per_record:
        notes.append(f"{scenario.states_per_record * data.records:,} STATEs")
    if scenario.slow_call_every:
        # Each hung call ends in a closed connection, which the target retries once.
        notes.append(f"calls hung {scenario.slow_call_s:g} s and retried: {result.retries or 0}")
    if scenario.schema_every:
        notes.append(f"{data.records // scenario.schema_every:,} schema changes")
    if scenario.clock_skew:
        notes.append(f"local clock {skew_text(scenario.clock_skew)} Intercom's")
    return notes


def endpoint_counts(calls: dict[str, int]) -> str:
    """ "100 PUT /contacts/{contact_id}, 1 GET /me": a run's calls, most first."""
    by_count = sorted(calls.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{n:,} {endpoint}" for endpoint, n in by_count) or "none"


def skew_text(clock_skew: float) -> str:
    """The fake's skew as seen from the target: "1 s ahead of" or "1 h behind"."""
    # A fake ahead of the target (positive skew) means a local clock behind it.
    direction = "behind" if clock_skew > 0 else "ahead of"
    seconds = abs(clock_skew)
    amount = f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"
    return f"{amount} {direction}"


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


def rate_ceiling(result: Result, scenario: Scenario, concurrency: int, ended_at: float) -> None:
    """Fills the ceiling and the ratio of the calls Intercom answered to it.

    The ratio is taken over the target's own elapsed time (from building its runtime to
    its summary), not the process wall time: interpreter start and imports are a fixed
    second or two that no concurrency can change, and would otherwise read as pacing.
    """
    latency_bound = concurrency / scenario.latency if scenario.latency > 0 else math.inf
    nominal_limit = scenario.rate_limit / scenario.rate_window if scenario.rate_limit else math.inf
    ceiling = min(latency_bound, nominal_limit)
    if math.isinf(ceiling):
        return
    result.ceiling_calls_s = ceiling
    answered = (result.api_calls or 0) - (result.rate_limited or 0)
    # The fake's windows are aligned on its own clock, `clock_skew` ahead of ours.
    allowed = allowed_calls(
        ended_at - result.load_s + scenario.clock_skew,
        ended_at + scenario.clock_skew,
        latency_bound,
        scenario.rate_limit,
        scenario.rate_window,
    )
    result.ratio = answered / allowed if allowed > 0 else None
    result.notes.append(f"ratio over the {result.load_s:.1f} s load")


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Verdict:
    name: str
    measured: str
    goal: str
    passed: bool | None  # None: a scenario it needs was not run or failed
    # Shown for information, no longer a Target: printed as `info` whatever it measures.
    info: bool = False


def verdicts(results: dict[str, Result]) -> list[Verdict]:
    """The issue's Targets, each a ratio of rows of this one run."""

    def usable(*names: str) -> bool:
        return all(name in results and results[name].ok for name in names)

    out = []
    if usable("users-5k-ratelimited"):
        r = results["users-5k-ratelimited"]
        pct = r.rate_limited_pct or 0.0
        ratio = r.ratio or 0.0
        out.append(
            Verdict(
                "rate-limited",
                f"{ratio:.3f} of the allowed calls, {pct:.2f} % 429s",
                ">= 0.95, 429s < 1 %",
                ratio >= 0.95 and pct < 1.0,
            )
        )
    else:
        out.append(Verdict("rate-limited", "not run or failed", ">= 0.95, 429s < 1 %", None))
    out.append(latency_verdict(results, "latency-bound", "users-5k-100ms"))
    out.append(
        ratio_verdict(
            results,
            "vs baseline (records/s)",
            "users-5k-100ms",
            "baseline-c1-100ms",
            lambda r: r.records_s,
            at_least=20.0,
        )
    )
    out.append(
        ratio_verdict(
            results,
            "CPU/record vs sdk no-op + call",
            "users-5k-0ms",
            "sdk-noop+call-5k",
            lambda r: r.cpu_us_record,
            at_most=1.3,
        )
    )
    # Issue 5's Target, which compared a record that makes an HTTPS call with one that makes
    # none: replaced by the one above, kept as information since its rows run anyway.
    out.append(
        ratio_verdict(
            results,
            "CPU/record vs sdk no-op",
            "users-200k-0ms",
            "sdk-noop-200k",
            lambda r: r.cpu_us_record,
            at_most=2.0,
            info=True,
        )
    )
    out.append(
        ratio_verdict(
            results,
            "peak RSS 200k vs 5k",
            "users-200k-0ms",
            "users-5k-0ms",
            lambda r: r.peak_rss_mb,
            at_most=1.5,
        )
    )
    out.append(
        ratio_verdict(
            results,
            "STATE storm peak RSS",
            "state-storm",
            "users-5k-0ms",
            lambda r: r.peak_rss_mb,
            at_most=1.5,
        )
    )
    out.append(
        ratio_verdict(
            results,
            "schema churn peak RSS",
            "schema-churn",
            "users-5k-0ms",
            lambda r: r.peak_rss_mb,
            at_most=1.5,
        )
    )
    out.extend(skew_verdict(results, name) for name in SKEWED)
    out.append(latency_verdict(results, "B2B latency-bound", "b2b-5k-100ms"))
    out.append(b2b_calls_verdict(results))
    out.append(out_of_order_verdict(results))
    out.append(resync_unchanged_verdict(results))
    out.append(resync_changed_verdict(results))
    out.append(
        ratio_verdict(
            results,
            "re-sync 200k CPU/record vs sdk no-op",
            "resync-200k-unchanged",
            "sdk-noop-200k",
            lambda r: r.cpu_us_record,
            at_most=2.0,
        )
    )
    out.append(
        ratio_verdict(
            results,
            "re-sync peak RSS 200k vs 5k",
            "resync-200k-unchanged",
            "resync-5k-unchanged",
            lambda r: r.peak_rss_mb,
            at_most=1.5,
        )
    )
    return out


def resync_unchanged_verdict(results: dict[str, Result]) -> Verdict:
    """An unchanged re-sync sends nothing for its records: what it may still call is what
    any run calls (GET /me, the data attributes), a few calls against the first load's one
    per record."""
    label = "re-sync unchanged calls"
    name, reference = "resync-5k-unchanged", "resync-5k-first"
    goal = f"<= {RESYNC_CALLS_SHARE_GOAL:.0%} of the first load's calls ({reference})"
    if not all(n in results and results[n].ok for n in (name, reference)):
        return Verdict(label, "not run or failed", goal, None)
    r, first = results[name], results[reference]
    if not first.api_calls or r.api_calls is None:
        return Verdict(label, "no calls counted", goal, None)
    share = r.api_calls / first.api_calls
    return Verdict(
        label,
        f"{r.api_calls:,} of {first.api_calls:,} calls = {share:.2%} "
        f"({endpoint_counts(r.calls_by_endpoint)}); {r.records_unchanged or 0:,} of "
        f"{r.records:,} records unchanged; wall {r.wall_s:.1f} s vs {first.wall_s:.1f} s",
        goal,
        share <= RESYNC_CALLS_SHARE_GOAL,
    )


def resync_changed_verdict(results: dict[str, Result]) -> Verdict:
    """A changed row costs its update by the id the store knows (PUT /contacts/{id}) and
    nothing else: the run's calls minus the unchanged re-sync's, per renamed user."""
    label = "re-sync changed row calls"
    name, reference = "resync-5k-changed", "resync-5k-unchanged"
    goal = f"<= {CALLS_PER_CHANGED_ROW_GOAL:g} per changed row (vs {reference})"
    if not all(n in results and results[n].ok for n in (name, reference)):
        return Verdict(label, "not run or failed", goal, None)
    r, ref = results[name], results[reference]
    if r.api_calls is None or ref.api_calls is None or not r.renamed:
        return Verdict(label, "no calls counted or no changed row", goal, None)
    endpoints = r.calls_by_endpoint.keys() | ref.calls_by_endpoint.keys()
    more = {e: r.calls_by_endpoint.get(e, 0) - ref.calls_by_endpoint.get(e, 0) for e in endpoints}
    where = ", ".join(f"{n:+,} {e}" for e, n in sorted(more.items(), key=lambda i: -i[1]) if n)
    # Calls a run makes once whatever its size (the attribute list, read once a changed
    # row needs its attributes checked) are not a row's.
    per_run = sum(n for e, n in more.items() if e in PER_RUN_ENDPOINTS)
    extra = r.api_calls - ref.api_calls - per_run
    per_row = extra / r.renamed
    return Verdict(
        label,
        f"{extra:,} calls more than {reference} ({where or 'none'}; {per_run} of them once "
        f"a run) = {per_row:.2f} per renamed user ({r.renamed:,}); wall {r.wall_s:.1f} s",
        goal,
        per_row <= CALLS_PER_CHANGED_ROW_GOAL,
    )


def latency_verdict(results: dict[str, Result], label: str, name: str) -> Verdict:
    """A row with no rate limit keeps `max_concurrency` calls on the wire: >= 0.90 of the
    calls `max_concurrency / latency` allows over its load."""
    if not (name in results and results[name].ok):
        return Verdict(label, "not run or failed", ">= 0.90", None)
    ratio = results[name].ratio or 0.0
    return Verdict(label, f"{ratio:.3f} of max_concurrency/latency", ">= 0.90", ratio >= 0.90)


def b2b_calls_verdict(results: dict[str, Result]) -> Verdict:
    """A user of a shared company costs its contact create and its attach; each company is
    upserted once per run."""
    label = "B2B calls"
    goal = f"<= 2 per user + 1 per company + {PER_RUN_CALLS} per run"
    name = "b2b-5k-100ms"
    if not (name in results and results[name].ok) or results[name].api_calls is None:
        return Verdict(label, "not run or failed", goal, None)
    r = results[name]
    users, companies = r.streams.get("users", 0), r.companies_on_users
    most = 2 * users + companies + PER_RUN_CALLS
    calls = r.api_calls or 0
    return Verdict(
        label,
        f"{calls:,} calls for {users:,} users of {companies:,} companies "
        f"({calls / users:.3f} per user; at most {most:,})",
        goal,
        calls <= most,
    )


def out_of_order_verdict(results: dict[str, Result]) -> Verdict:
    """The same records as mixed-5k in tap-postgres's stream order: a company or an event
    that comes before its users may cost one call more (its first try, which meets
    Intercom's 404, or the look-up of a member not there yet), and no more."""
    label = "out-of-order extra calls"
    name, reference = "out-of-order-5k", "mixed-5k"
    goal = f"<= 1 per record that waits for its users (vs {reference})"
    if not all(n in results and results[n].ok for n in (name, reference)):
        return Verdict(label, "not run or failed", goal, None)
    r, ref = results[name], results[reference]
    if r.streams != ref.streams or r.api_calls is None or ref.api_calls is None:
        return Verdict(label, f"the inputs of {name} and {reference} differ", goal, None)
    waiting = r.streams.get("companies", 0) + r.streams.get("events", 0)
    extra = r.api_calls - ref.api_calls
    over = extra - waiting
    endpoints = r.calls_by_endpoint.keys() | ref.calls_by_endpoint.keys()
    more = {e: r.calls_by_endpoint.get(e, 0) - ref.calls_by_endpoint.get(e, 0) for e in endpoints}
    where = ", ".join(f"{n:+,} {e}" for e, n in sorted(more.items(), key=lambda i: -i[1]) if n)
    return Verdict(
        label,
        f"{extra:,} calls more than {reference} ({where or 'none'}) for {waiting:,} waiting "
        f"records: {'at most one each' if over <= 0 else f'{over:,} over one each'}; "
        f"calls/record {r.calls_per_record or 0:.3f} vs {ref.calls_per_record or 0:.3f}, "
        f"records/s {r.records_s:,.0f} vs {ref.records_s:,.0f}",
        goal,
        over <= 0,
    )


def skew_verdict(results: dict[str, Result], name: str) -> Verdict:
    """A skewed rate-limited row against the unskewed one: the same share of the allowed
    calls (within SKEW_RATIO_GOAL of it) and, like it, under 1 % 429s."""
    reference = "users-5k-ratelimited"
    label = f"skew {name.removeprefix('ratelimited-')}"
    goal = f">= {SKEW_RATIO_GOAL:g}x the {reference} ratio, 429s < 1 %"
    if not all(n in results and results[n].ok for n in (name, reference)):
        return Verdict(label, "not run or failed", goal, None)
    skewed, unskewed = results[name], results[reference]
    if not skewed.ratio or not unskewed.ratio:
        return Verdict(label, "no ratio", goal, None)
    relative = skewed.ratio / unskewed.ratio
    pct = skewed.rate_limited_pct or 0.0
    return Verdict(
        label,
        f"{skewed.ratio:.3f} of the allowed calls = {relative:.2f}x unskewed "
        f"({unskewed.ratio:.3f}), {pct:.2f} % 429s",
        goal,
        relative >= SKEW_RATIO_GOAL and pct < 1.0,
    )


def ratio_verdict(
    results: dict[str, Result],
    name: str,
    top: str,
    bottom: str,
    value: Callable[[Result], float],
    *,
    at_least: float | None = None,
    at_most: float | None = None,
    info: bool = False,
) -> Verdict:
    goal = f">= {at_least:g}x" if at_least is not None else f"<= {at_most:g}x"
    if info:
        goal = f"none (was {goal}; information only)"
    if not all(n in results and results[n].ok for n in (top, bottom)):
        return Verdict(name, "not run or failed", goal, None, info)
    ratio = value(results[top]) / value(results[bottom])
    passed = ratio >= at_least if at_least is not None else ratio <= (at_most or 0.0)
    return Verdict(name, f"{ratio:.2f}x ({top} / {bottom})", goal, passed, info)


# --------------------------------------------------------------------------- printing

COLUMNS = (
    "scenario",
    "records",
    "wall s",
    "records/s",
    "calls/record",
    "429s (% calls)",
    "peak RSS MB",
    "CPU µs/record",
    "ceiling calls/s",
    "ratio",
    "notes",
)


def row(r: Result) -> list[str]:
    def opt(value: float | None, fmt: str) -> str:
        return "—" if value is None else format(value, fmt)

    limited = (
        "—" if r.rate_limited is None else f"{r.rate_limited} ({r.rate_limited_pct or 0.0:.2f} %)"
    )
    return [
        r.scenario,
        f"{r.records:,}",
        f"{r.wall_s:.1f}",
        f"{r.records_s:,.0f}",
        opt(r.calls_per_record, ".3f"),
        limited,
        f"{r.peak_rss_mb:.0f}",
        f"{r.cpu_us_record:,.0f}",
        opt(r.ceiling_calls_s, ",.0f"),
        opt(r.ratio, ".3f"),
        "; ".join(r.notes),
    ]


def print_table(
    results: list[Result],
    verdict_list: list[Verdict],
    *,
    markdown: bool,
    smoke: bool,
    out: TextIO,
) -> None:
    heading = "Targets (ratios within this run)" + (
        f"; a smoke run's {SMOKE_RECORDS} records are too few for them to mean anything"
        if smoke
        else ""
    )
    rows = [list(COLUMNS)] + [row(r) for r in results]
    if markdown:
        out.write("| " + " | ".join(COLUMNS) + " |\n")
        out.write(
            "|" + "|".join("---" if i in (0, 10) else "---:" for i in range(len(COLUMNS))) + "|\n"
        )
        for cells in rows[1:]:
            out.write("| " + " | ".join(cells) + " |\n")
        out.write(f"\n{heading}:\n\n| target | measured | goal | result |\n|---|---|---|---|\n")
        for v in verdict_list:
            out.write(f"| {v.name} | {v.measured} | {v.goal} | {outcome(v)} |\n")
        return
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(COLUMNS) - 1)]
    for cells in rows:
        line = "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=False))
        )
        out.write(f"{line}  {cells[-1]}".rstrip() + "\n")
    out.write(f"\n{heading}:\n")
    name_width = max(len(v.name) for v in verdict_list)
    for v in verdict_list:
        out.write(f"  {v.name.ljust(name_width)}  {outcome(v):4}  {v.measured}  (goal {v.goal})\n")


def outcome(v: Verdict) -> str:
    if v.passed is None:
        return "n/a"
    if v.info:
        return "info"
    return "PASS" if v.passed else "MISS"


# --------------------------------------------------------------------------- main


def describe(scenario: Scenario, workers: int) -> str:
    """One progress line: what is about to run."""
    text = f"{scenario.name}: {scenario.records:,} records, "
    if scenario.noop and scenario.noop_calls:
        return text + "bench/noop_target.py plus one POST /contacts a record, latency 0 ms"
    if scenario.noop:
        return text + "bench/noop_target.py, no fake"
    text += f"max_concurrency {workers}, latency {scenario.latency * 1000:g} ms"
    if scenario.kind == "b2b":
        text += f", users of {B2B_COMPANIES} companies (a nested company on each)"
    if scenario.kind == "out-of-order":
        text += ", streams in alphabetical order (companies, events, users)"
    if scenario.rate_limit:
        text += f", limit {scenario.rate_limit}/{scenario.rate_window:g}s"
    if scenario.clock_skew:
        text += f", local clock {skew_text(scenario.clock_skew)} the fake's"
    if scenario.states_per_record:
        text += f", {scenario.states_per_record} STATEs after each record"
    if scenario.slow_call_every:
        text += (
            f", 1 in {scenario.slow_call_every:,} POST /contacts hangs {scenario.slow_call_s:g} s"
        )
    if scenario.schema_every:
        every = "" if scenario.schema_every == 1 else f" {scenario.schema_every:,}th"
        text += f", a changed SCHEMA before every{every} record"
    if scenario.chain:
        steps = {
            "first": "a first load",
            "unchanged": "the same input again",
            "changed": f"1 user in {CHANGED_EVERY} renamed",
        }
        text += (
            f"; one fake and one sync store for {', then '.join(steps[s] for s in scenario.chain)}"
        )
    return text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark target-intercom against the fake Intercom (see bench/README.md)."
    )
    parser.add_argument("--only", help="comma-separated scenario names to run")
    parser.add_argument(
        "--records-scale", type=float, default=1.0, help="multiply every scenario's N by this"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_RECORDS} records a scenario, {SMOKE_BASELINE_RECORDS} for the baseline (CI)",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        help="max_concurrency for every scenario but the baseline (default: the target's)",
    )
    parser.add_argument(
        "--baseline-records",
        type=int,
        default=DEFAULT_BASELINE_RECORDS,
        help="users in the max_concurrency 1 baseline (5,000 would take ~8 minutes alone); "
        "it is compared by records/s",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    everything = scenarios(
        scale=args.records_scale, smoke=args.smoke, baseline_records=args.baseline_records
    )
    chosen = everything
    if args.only:
        wanted = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = set(wanted) - {s.name for s in chosen}
        if unknown:
            names = ", ".join(s.name for s in chosen)
            print(
                f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {names}",
                file=sys.stderr,
            )
            return 2
        chosen = [s for s in chosen if s.name in wanted]
    concurrency = args.max_concurrency or default_max_concurrency()
    # The baseline may run fewer users than the row it is compared with.
    reference = next(s.records for s in everything if s.name == "users-5k-100ms")

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
                if result.scenario == "baseline-c1-100ms" and result.records != reference:
                    result.notes.append(
                        f"{result.records:,} users, not {reference:,}: compare records/s"
                    )
                if not result.ok:
                    print(f"  {result.scenario}: {'; '.join(result.notes)}", file=sys.stderr)
            results.extend(rows)

    verdict_list = verdicts({r.scenario: r for r in results})
    print_table(results, verdict_list, markdown=args.markdown, smoke=args.smoke, out=sys.stdout)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": {
                        "python": platform.python_version(),
                        "cpus": os.cpu_count(),
                        "platform": platform.platform(),
                    },
                    "max_concurrency": concurrency,  # the target default unless --max-concurrency
                    "results": [r.as_json() for r in results],
                    "targets": [asdict(v) | {"result": outcome(v)} for v in verdict_list],
                },
                indent=2,
            )
            + "\n"
        )
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
