"""A stop (SIGTERM) at any moment ends the run: within request_timeout and a few seconds,
exit 1, and a STATE never ahead of what Intercom holds. Real signals to the real CLI, at
random moments of a first load and of an unchanged re-sync (where most of the time is
spent in the reading loop and the re-sync shortcut)."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_intercom import FakeIntercom

from tests.conftest import STR, config_for, record, schema, state

USERS = schema("users", {"id": STR, "email": STR, "name": STR}, ["id"])
# The slow tier's rounds per test; the trials ran 100 (TARGET_INTERCOM_STOP_ROUNDS=100).
ROUNDS = int(os.environ.get("TARGET_INTERCOM_STOP_ROUNDS", "20"))
_READ_ALL = re.compile(r"^(\S+ \S+) .*completed processing", re.M)


def _input(n: int) -> str:
    lines = [USERS]
    for i in range(n):
        lines.append(record("users", {"id": f"u{i}", "email": f"u{i}@x.io", "name": f"U {i}"}))
        if i % 100 == 99:
            lines.append(state({"last": i}))
    return "".join(json.dumps(line) + "\n" for line in lines)


def _run(folder: Path, config: dict, text: str, stop_after: float | None) -> tuple[int, list, str]:
    """Runs the CLI on `text`; with `stop_after`, SIGTERM that long after its start. Fails
    the test if the run goes on more than request_timeout and a margin after the signal,
    or if it read all its input and exited 0 though the signal came well before that."""
    (folder / "config.json").write_text(json.dumps(config))
    config_path = str(folder / "config.json")
    (folder / "input.jsonl").write_text(text)
    with (folder / "input.jsonl").open() as stdin:
        process = subprocess.Popen(
            # faulthandler: a run that does not stop shows where each thread waits.
            [
                sys.executable,
                "-X",
                "faulthandler",
                "-m",
                "target_intercom",
                "--config",
                config_path,
            ],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=folder,
        )
    signalled_at = None
    if stop_after is not None:
        time.sleep(stop_after)
        if process.poll() is None:
            signalled_at = time.time()
            process.send_signal(signal.SIGTERM)
    # A run that is not stopped may take its time (the test's timeout bounds it).
    bound = None if signalled_at is None else config["request_timeout"] + 5
    try:
        out, err = process.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        out, err = process.communicate()
        pytest.fail(
            f"the run went on {config['request_timeout'] + 5}s after SIGTERM:\n{err[-4000:]}"
        )
    read_all = _READ_ALL.search(err)
    if signalled_at is not None and process.returncode == 0 and read_all:
        finished = dt.datetime.strptime(read_all.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        assert finished < signalled_at + 0.2, "the signal was swallowed: the run read on"
    states = [json.loads(line) for line in out.splitlines() if line.strip()]
    return process.returncode, states, err


def _check_rerun(fake: FakeIntercom, folder: Path, config: dict, text: str, n: int) -> None:
    """The next run, given the whole input again (a full-table tap resumed), leaves every
    record in Intercom exactly once."""
    code, _, err = _run(folder, config, text, None)
    assert code == 0, err[-3000:]
    held = [c["external_id"] for c in fake.contacts()]
    assert sorted(held) == sorted(f"u{i}" for i in range(n))


def _check_stop(fake: FakeIntercom, code: int, states: list, err: str, n: int) -> bool:
    """Whether the run was stopped (else it had finished); either way its STATE is true."""
    assert "Traceback" not in err
    held = {c["external_id"] for c in fake.contacts()}
    last = states[-1]["last"] if states else -1
    assert all(f"u{i}" in held for i in range(last + 1)), f"STATE {last} ahead of delivery"
    if code == 0:
        assert last == n - 1
        return False
    # -15: the signal came before the target set its handler up (or after it let it go),
    # and ended the process at once, as a kill would.
    assert code in (1, -signal.SIGTERM), err
    assert code != 1 or "stopped by signal 15" in err
    return True


# Each round is a run and, when stopped, a run after it; on a busy machine a round can
# take several seconds.
ROUND_BOUND = pytest.mark.timeout(120 + 15 * ROUNDS)


@pytest.mark.slow
@ROUND_BOUND
def test_sigterm_at_random_moments_of_a_first_load_always_stops_with_a_true_state(fake, tmp_path):
    rng = random.Random(17)
    n = 1500
    text = _input(n)
    fake.configure(latency=0.002)
    stopped = 0
    for round_ in range(ROUNDS):
        fake.reset()
        folder = tmp_path / f"round-{round_}"
        folder.mkdir()
        config = config_for(fake, request_timeout=2, sync_store_path=str(folder / "s.db"))
        code, states, err = _run(folder, config, text, rng.uniform(0.9, 2.5))
        if _check_stop(fake, code, states, err, n):
            stopped += 1
            _check_rerun(fake, folder, config, text, n)
    assert stopped >= ROUNDS // 2, "most signals should land while the run is going"


@pytest.mark.slow
@ROUND_BOUND
def test_sigterm_at_random_moments_of_an_unchanged_resync_always_stops(fake, tmp_path):
    rng = random.Random(18)
    n = 20_000
    text = _input(n)
    config = config_for(fake, request_timeout=2, sync_store_path=str(tmp_path / "s.db"))
    code, _, err = _run(tmp_path, config, text, None)
    assert code == 0, err
    # The rows three times over: an unchanged re-sync reads them so fast that one pass
    # would often end before the signal, and a bigger first load would cost the test far
    # more than re-reading does.
    again = text + text[text.index("\n") + 1 :] * 2
    stopped = 0
    for _ in range(ROUNDS):
        code, states, err = _run(tmp_path, config, again, rng.uniform(0.9, 3.0))
        stopped += _check_stop(fake, code, states, err, n)
    _check_rerun(fake, tmp_path, config, text, n)
    assert stopped >= ROUNDS // 2, "most signals should land while the run is going"
