"""What a failed run leaves a user to read: its one error line is the last thing it says, and
it reads on until the tap ends (within a bound), so that Meltano does not follow that line
with tracebacks of a write into a closed pipe."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import STR, _write_config, config_for, record, schema


def start_cli(config: dict, tmp_path) -> subprocess.Popen:
    """The CLI with its stdin left to the tap (`communicate` would close it), its log in
    tmp_path/stderr.log."""
    with (tmp_path / "stderr.log").open("wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "target_intercom",
                "--config",
                str(_write_config(config, tmp_path)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd=tmp_path,
        )


class Tap(threading.Thread):
    """Writes a stream that fails on its first record (an unknown stream), then goes on
    writing records for `seconds` (or until the target stops reading), as a tap would."""

    def __init__(self, target: subprocess.Popen, seconds: float) -> None:
        super().__init__(daemon=True)
        self.target, self.seconds = target, seconds
        self.broken_pipe = False

    def run(self) -> None:
        stdin = self.target.stdin
        assert stdin is not None
        lines = [schema("accounts_audit", {"id": STR}, ["id"])]
        end = time.monotonic() + self.seconds
        try:
            stdin.write((json.dumps(lines[0]) + "\n").encode())
            while time.monotonic() < end:
                stdin.write((json.dumps(record("accounts_audit", {"id": "x"})) + "\n").encode())
                stdin.flush()
                time.sleep(0.001)
            stdin.close()
        except BrokenPipeError:
            self.broken_pipe = True


def test_a_failed_run_reads_on_until_the_tap_ends_and_its_error_is_its_last_line(fake, tmp_path):
    target = start_cli(config_for(fake), tmp_path)
    tap = Tap(target, seconds=1.5)
    started = time.monotonic()
    tap.start()
    target.wait(timeout=60)
    tap.join(timeout=10)
    stderr = (tmp_path / "stderr.log").read_text()

    assert target.returncode == 1
    assert not tap.broken_pipe, "the target stopped reading while the tap still wrote"
    assert time.monotonic() - started >= 1.5
    lines = stderr.strip().splitlines()
    assert "target-intercom failed: stream 'accounts_audit' is not one" in lines[-1]
    assert "Traceback" not in stderr


@pytest.mark.slow  # waits the drain's 5 s bound out
def test_a_failed_run_does_not_wait_for_a_tap_that_goes_on_past_the_bound(fake, tmp_path):
    target = start_cli(config_for(fake), tmp_path)
    tap = Tap(target, seconds=60)
    started = time.monotonic()
    tap.start()
    target.wait(timeout=30)
    waited = time.monotonic() - started

    assert target.returncode == 1
    assert 5 <= waited < 15
    tap.join(timeout=10)
    assert tap.broken_pipe
