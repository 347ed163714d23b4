"""README.md's "tap-postgres in ten minutes", its commands run as written: in a new Meltano
project (`meltano init`), the published tap-postgres reads a real PostgreSQL server
(tests/postgres_server.py) whose schema has a table that is not for Intercom, into the fake
Intercom; then a second run reads only the rows at the bookmarks.

`meltano add --plugin-type extractor tap-postgres` looks the tap up on Meltano Hub, which
these tests cannot reach: a Hub of our own on 127.0.0.1 answers with tap-postgres' definition
(the meltanolabs variant, its settings, its pip_url pinned to the version the other tests
use). The connection values the README sets are placeholders; Meltano's environment
variables (TAP_POSTGRES_HOST, ...), which take precedence over meltano.yml, point the tap
at the test server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, TOKEN
from tests.test_meltano import meltano, meltano_env, meltano_exe
from tests.test_meltano_readme import CHECKOUT
from tests.test_real_tap_postgres import (
    COMPANIES,
    EVENTS,
    TAP_PIP_URL,
    USERS,
    check_companies,
    check_events,
    check_users,
    first_load,
    successful_writes,
    tap_record_counts,
)

pytestmark = [
    pytest.mark.slow,
    # About a minute: two installs and twenty Meltano commands.
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        sys.version_info >= (3, 13), reason="pgserver ships PostgreSQL wheels up to Python 3.12"
    ),
]

README = (ROOT / "README.md").read_text()
TAP = "tap-postgres"
VARIANT = "meltanolabs"


def section_commands() -> list[str]:
    section = README.split("## tap-postgres in ten minutes\n", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```bash\n(.*?)\n```", section, flags=re.S)
    return block.splitlines()


# tap-postgres as Meltano Hub defines it (meltanolabs variant), the settings the README uses.
TAP_DEFINITION = {
    "name": TAP,
    "namespace": "tap_postgres",
    "variant": VARIANT,
    "label": "PostgreSQL",
    "pip_url": TAP_PIP_URL,
    "executable": TAP,
    "capabilities": ["about", "activate-version", "catalog", "discover", "state", "stream-maps"],
    "settings": [
        {"name": "host", "kind": "string", "label": "Host"},
        {"name": "port", "kind": "integer", "label": "Port", "value": 5432},
        {"name": "user", "kind": "string", "label": "User"},
        {"name": "password", "kind": "string", "label": "Password", "sensitive": True},
        {"name": "database", "kind": "string", "label": "Database"},
        {"name": "filter_schemas", "kind": "array", "label": "Filter Schemas"},
    ],
}


@pytest.fixture
def hub() -> Iterator[str]:
    """Meltano Hub's API for extractors, on 127.0.0.1, knowing tap-postgres alone; its root."""
    server: ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            root = f"http://127.0.0.1:{server.server_port}/meltano/api/v1/plugins/extractors"
            pages: dict[str, Any] = {
                "/meltano/api/v1/plugins/extractors/index": {
                    TAP: {
                        "default_variant": VARIANT,
                        "logo_url": None,
                        "variants": {VARIANT: {"ref": f"{root}/{TAP}--{VARIANT}"}},
                    }
                },
                f"/meltano/api/v1/plugins/extractors/{TAP}--{VARIANT}": TAP_DEFINITION,
            }
            page = pages.get(self.path.split("?")[0])
            body = json.dumps(page).encode()
            self.send_response(200 if page is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def warehouse(postgres) -> Iterator[str]:
    name = f"ten_minutes_{os.getpid()}_{time.monotonic_ns()}"
    postgres.sql(f"create database {name}")
    postgres.sql(first_load(), database=name)  # with schema_migrations, not for Intercom
    yield name
    postgres.sql(f"drop database {name} with (force)")


def test_tap_postgres_in_ten_minutes_as_written(fake, postgres, warehouse, hub, tmp_path):
    commands = section_commands()
    assert commands[0] == f"meltano add --plugin-type extractor {TAP}"
    assert commands[-1] == f"meltano run {TAP} target-intercom"
    env = meltano_env(
        tmp_path / "my-project",
        MELTANO_HUB_URL=hub,
        MELTANO_HUB_API_ROOT=f"{hub}/meltano/api/v1",
        PATH=f"{Path(meltano_exe()).parent}:{os.environ['PATH']}",
        PG_PASSWORD="unused",
        INTERCOM_TOKEN=TOKEN,
        # The fake, not Intercom; the test server, not db.example.com.
        TARGET_INTERCOM_API_BASE_URL=fake.url,
        TAP_POSTGRES_HOST=postgres.host,
        TAP_POSTGRES_PORT=postgres.port,
        TAP_POSTGRES_USER=postgres.user,
        TAP_POSTGRES_DATABASE=warehouse,
    )
    env = {k: v for k, v in env.items() if not k.startswith("PG") or k == "PG_PASSWORD"}
    created = subprocess.run(
        [meltano_exe(), "init", "my-project", "--no-usage-stats"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr[-3000:]
    project = tmp_path / "my-project"

    script = "\n".join(commands).replace(CHECKOUT, str(ROOT))
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=500,
        check=False,
    )
    print(f"\nthe section's {len(commands)} commands: {time.monotonic() - started:.1f} s")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert TOKEN not in output

    # The three tables, loaded with no stream_maps; schema_migrations never read.
    assert tap_record_counts(output) == {
        "public-companies": len(COMPANIES),
        "public-events": len(EVENTS),
        "public-users": len(USERS),
    }
    check_users(fake, USERS)
    check_companies(fake, COMPANIES)
    check_events(fake, EVENTS)
    assert "/target-intercom-sync.db*" in (project / ".gitignore").read_text().splitlines()
    assert (project / "target-intercom-sync.db").is_file()
    definition = yaml.safe_load((project / "meltano.yml").read_text())
    assert definition["env"] == {"INTERCOM_LOADER_PIP_URL": str(ROOT)}
    assert TOKEN not in (project / "meltano.yml").read_text()

    # Incremental: the next run reads only the row at each bookmark again (the tap's
    # `>= bookmark`); the unchanged user and company cost no write, nor does the event read
    # again (the sync store remembers it was sent).
    calls = len(fake.calls())
    again = meltano(project, "run", TAP, "target-intercom", env=env, timeout=300)
    assert again.returncode == 0, again.stderr[-5000:]
    assert tap_record_counts(again.stdout + again.stderr) == {
        "public-companies": 1,
        "public-events": 1,
        "public-users": 1,
    }
    assert successful_writes(fake.calls()[calls:]) == {}
    check_events(fake, EVENTS)
