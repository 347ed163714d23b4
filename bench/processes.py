"""Starting the processes a run needs, and measuring the target's from outside.

The fake runs in a process of its own so that its CPU is not counted as the target's. The
target's CPU time and peak memory come from `os.wait4`, the kernel's account of that one
child, which neither the fake nor this script can add to.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inputs import ORDER_ATTRIBUTES, ORDER_REFERENCE, ORDER_TYPE
from scenarios import Scenario

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-not-a-real-secret"
# A scenario that takes longer than this is stuck, not slow: the full run fits in ~20 min.
SCENARIO_TIMEOUT_SECONDS = 1800.0
FAKE_START_TIMEOUT_SECONDS = 60.0

# The fake draws its faults from a seeded RNG: the same seed picks the same calls (by
# their order of arrival) in every run.
SLOW_CALL_SEED = 1


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
        if self.scenario.kind == "orders":
            self._seed_order_type()
        return self

    def _seed_order_type(self) -> None:
        """The custom object type the orders load into, made as Intercom's settings would."""
        body = {
            "name": ORDER_TYPE,
            "attributes": list(ORDER_ATTRIBUTES),
            "reference_attribute": ORDER_REFERENCE,
        }
        request = urllib.request.Request(
            f"{self.url}/_fake/custom_object_type",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30):
            pass

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


def fake_state(url: str) -> dict[str, Any]:
    """The fake's whole workspace and its call counts (`GET /_fake/state`), so that a run is
    checked against what Intercom would hold rather than against what the target says it
    sent. Serialising 200,000 contacts takes the fake a while, hence the long timeout."""
    with urllib.request.urlopen(f"{url}/_fake/state", timeout=300) as response:
        state: dict[str, Any] = json.loads(response.read())
    return state


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


def tail(text: str, lines: int) -> str:
    """A log's last lines joined into one, so that a failure's note says why it failed
    without breaking the table's one line per row."""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])
