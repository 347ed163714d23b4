"""Shared fixtures: a fake Intercom on 127.0.0.1, and two ways to run the target against it:
in this process (`run_target`, the CLI's own code path without the interpreter start-up) and
as the real CLI in a subprocess (`run_cli`, for tests about the process itself)."""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fake_intercom import FakeIntercom

from target_intercom.waits import Waits

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_PATH = Path(
    os.environ.get(
        "INTERCOM_OPENAPI_PATH",
        ROOT.parent / "shared" / "intercom-openapi" / "api.intercom.io.yaml",
    )
)
TOKEN = "tok_test_S3cr3t-abcdef0123456789"
# A thousandth of each production retry, backoff and search wait, for the tests of what the
# target does rather than how long it waits: `run_target` runs the target with them, unit
# tests hand them to what they build. The pacer's bounds are kept apart: `reset_max` stays
# above every rate-limit window a test sets (those are waited out in full, as Intercom's
# are), and `reset_min` at 50 ms, since a 429 whose reset has passed is tried again after
# it, up to 50 times in a row.
WAITS = Waits(
    conflict_retries=(0.0005, 0.002),
    lead_search=(0.0, 0.001, 0.002, 0.004, 0.008),
    backoff_factor=0.0005,
    backoff_max=0.03,
    reset_max=1.0,
    reset_unknown=0.001,
)


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not OPENAPI_PATH.exists():
        raise pytest.UsageError(
            f"CI must validate against Intercom's OpenAPI description, not found at {OPENAPI_PATH}"
        )


@pytest.fixture
def fake() -> Iterator[FakeIntercom]:
    """A fresh fake workspace; each test also checks that no request broke the description."""
    server = FakeIntercom(token=TOKEN, openapi_path=OPENAPI_PATH if OPENAPI_PATH.exists() else None)
    server.start()
    try:
        yield server
        assert server.validation_errors() == []
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A PostgreSQL 16 server on 127.0.0.1 for the session (tests/postgres_server.py, from
    the pgserver wheel), removed at its end."""
    if importlib.util.find_spec("pgserver") is None:
        pytest.skip("pgserver has no wheel for this Python (3.13+): no PostgreSQL here")
    from tests import postgres_server

    with postgres_server.running() as server:
        yield server


# Each fake workspace gets its own sync store, shared by the runs of one test against it
# (a second run is a re-sync, as in production) and by no other test.
_STORE_DIR = Path(tempfile.mkdtemp(prefix="target-intercom-tests-"))
atexit.register(shutil.rmtree, _STORE_DIR, ignore_errors=True)
_store_paths: dict[FakeIntercom, str] = {}


def store_path_for(fake: FakeIntercom) -> str:
    return _store_paths.setdefault(fake, str(_STORE_DIR / f"sync-{uuid.uuid4().hex}.db"))


def config_for(fake: FakeIntercom, **settings: Any) -> dict[str, Any]:
    return {
        "access_token": TOKEN,
        "api_base_url": fake.url,
        "request_timeout": 5,
        "sync_store_path": store_path_for(fake),
        **settings,
    }


def schema(stream: str, properties: dict[str, Any], key: list[str] | None = None) -> dict:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": key if key is not None else [],
    }


def record(stream: str, data: dict[str, Any]) -> dict:
    return {"type": "RECORD", "stream": stream, "record": data}


def state(value: dict[str, Any]) -> dict:
    return {"type": "STATE", "value": value}


STR = {"type": ["string", "null"]}
INT = {"type": ["integer", "null"]}
BOOL = {"type": ["boolean", "null"]}
DATETIME = {"type": ["string", "null"], "format": "date-time"}
LIST = {"type": ["array", "null"], "items": {"type": "string"}}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "ERROR" in line or "error" in line]


def _stdin_text(messages: list[dict | str]) -> str:
    return "\n".join(m if isinstance(m, str) else json.dumps(m) for m in messages) + "\n"


def _write_config(config: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def run_cli(
    config: dict[str, Any],
    messages: list[dict | str],
    tmp_path: Path,
    *,
    timeout: float = 120,
) -> Run:
    """Runs the real `target-intercom` CLI in a subprocess, with these messages on stdin.
    For what only a process shows: exit codes, what reaches the real stderr, signals."""
    config_path = _write_config(config, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "target_intercom", "--config", str(config_path)],
        input=_stdin_text(messages),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


class _Output(io.TextIOBase):
    """Stands in for sys.stdout or sys.stderr during an in-process run: keeps everything
    written, from any thread, and hands each complete line to `on_line` as it is written."""

    def __init__(self, on_line: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._chunks: list[str] = []
        self._partial = ""
        self._on_line = on_line

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        lines: list[str] = []
        with self._lock:
            self._chunks.append(text)
            if self._on_line is not None:
                *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            assert self._on_line is not None
            self._on_line(line)
        return len(text)

    def getvalue(self) -> str:
        with self._lock:
            return "".join(self._chunks)


def run_target(
    config: dict[str, Any],
    messages: list[dict | str],
    tmp_path: Path,
    *,
    on_state: Callable[[dict], None] | None = None,
) -> Run:
    """Runs the target in this process the way its CLI does (`TargetIntercom.invoke`, with
    the config read from a file, the messages on its input, and the working directory, log
    level and log format of the CLI), and returns what the CLI would have: the exit code,
    stdout (the STATE lines) and stderr (the log). The target waits `WAITS`, not seconds.

    `on_state` is called with each STATE value at the moment the target writes it, on the
    thread that writes it, before the target goes on."""
    # Imported here, so that a broken target fails its tests, not the collection of all.
    from singer_sdk.exceptions import ConfigValidationError
    from singer_sdk.logging import ConsoleFormatter
    from singer_sdk.plugin_base import _ConfigInput, _plugin_log_level

    from target_intercom.target import TargetIntercom

    class Target(TargetIntercom):
        waits = WAITS

    config_input = _ConfigInput.from_cli_args(str(_write_config(config, tmp_path)))

    def state_line(line: str) -> None:
        if on_state is not None and line.strip():
            on_state(json.loads(line))

    stdout, stderr = _Output(state_line), _Output()
    handler = logging.StreamHandler(stderr)
    handler.setFormatter(ConsoleFormatter())
    root = logging.getLogger()
    saved_level = root.level
    saved_signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    saved_cwd = os.getcwd()
    saved_excepthook = threading.excepthook
    root.addHandler(handler)
    root.setLevel(_plugin_log_level(plugin_name=TargetIntercom.name))
    # A thread's uncaught exception prints its traceback to stderr, as in the CLI (pytest's
    # own hook would turn it into a warning that no assertion on stderr could see).
    threading.excepthook = threading.__excepthook__
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                Target.invoke(config=config_input, file_input=io.StringIO(_stdin_text(messages)))
                returncode = 0
            except ConfigValidationError as exc:
                # What the SDK's command does with it around `invoke`.
                for error in exc.errors:
                    TargetIntercom.logger.error(error)
                TargetIntercom.logger.error("Config validation failed")
                returncode = 1
            except SystemExit as exc:
                if exc.code is None or isinstance(exc.code, int):
                    returncode = exc.code or 0
                else:  # sys.exit("message"): Python prints it and exits 1
                    print(exc.code, file=sys.stderr)
                    returncode = 1
    finally:
        os.chdir(saved_cwd)
        threading.excepthook = saved_excepthook
        root.removeHandler(handler)
        root.setLevel(saved_level)
        for signum, previous in saved_signals.items():
            signal.signal(signum, previous)
    return Run(returncode, stdout.getvalue(), stderr.getvalue())
