"""Shared fixtures: a fake Intercom on 127.0.0.1 and a way to run the real target CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fake_intercom import FakeIntercom

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_PATH = Path(
    os.environ.get(
        "INTERCOM_OPENAPI_PATH",
        ROOT.parent / "shared" / "intercom-openapi" / "api.intercom.io.yaml",
    )
)
TOKEN = "tok_test_S3cr3t-abcdef0123456789"


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


def config_for(fake: FakeIntercom, **settings: Any) -> dict[str, Any]:
    return {
        "access_token": TOKEN,
        "api_base_url": fake.url,
        "request_timeout": 5,
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


def run_target(
    config: dict[str, Any],
    messages: list[dict | str],
    tmp_path: Path,
    *,
    timeout: float = 120,
) -> Run:
    """Runs the real `target-intercom` CLI in a subprocess, with these messages on stdin."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    lines = [m if isinstance(m, str) else json.dumps(m) for m in messages]
    done = subprocess.run(
        [sys.executable, "-m", "target_intercom", "--config", str(config_path)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)
