"""The loader under Meltano: meltano.yml, the Hub definition and `--about` agree; `meltano run`
loads tap-demo-users into the fake with Meltano's system database as the state store; and a
run whose target is killed partway resumes from the last STATE Meltano stored.

Meltano never reaches the network here: both plugins are fully defined in meltano.yml (no
Hub lookups; MELTANO_HUB_URL points at a closed port so that one would fail at once),
tracking and the version check are off, and the loader is installed once per session
(`meltano install`, from PyPI or uv's cache) into a project the tests' projects link to.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import jsonschema
import psutil  # a dependency of Meltano
import pytest
import yaml

from tests.conftest import ROOT, TOKEN

MELTANO_YML = ROOT / "meltano.yml"
HUB_YML = ROOT / "hub" / "loaders" / "target-intercom" / "target-intercom.yml"
TAP_DIR = ROOT / "tests" / "meltano"
LOADER = "target-intercom"
EXTRACTOR = "tap-demo-users"
STATE_ID = f"dev:{EXTRACTOR}-to-{LOADER}"
# tap-demo-users' data: user i signs up at EPOCH + i minutes, their event 30 s later.
EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)

# Setting kinds a JSON schema type can be given as (password is deprecated in Meltano 4:
# string with sensitive: true; integer would refuse a number such as 2.5).
KINDS = {
    "string": {"string", "options", "date_iso8601", "email", "file"},
    "integer": {"integer"},
    "number": {"decimal"},
    "boolean": {"boolean"},
    "array": {"array"},
    "object": {"object"},
}
HUB_FIELDS = {
    "name",
    "namespace",
    "variant",
    "label",
    "description",
    "pip_url",
    "capabilities",
    "settings",
    "settings_group_validation",
    "keywords",
    "maintenance_status",
}


# ------------------------------------------------------------------ definitions agree


def about() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "target_intercom", "--about", "--format=json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def meltano_project() -> dict[str, Any]:
    return yaml.safe_load(MELTANO_YML.read_text())


def plugin(project: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    [found] = [p for p in project["plugins"][kind] if p["name"] == name]
    return found


def json_types(schema: dict[str, Any]) -> set[str]:
    """The non-null JSON types a property (or any of its oneOf/anyOf branches) allows."""
    types: set[str] = set()
    declared = schema.get("type")
    if declared is not None:
        types.update([declared] if isinstance(declared, str) else declared)
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        if isinstance(branch, dict):
            types |= json_types(branch)
    return types - {"null"}


def property_of(properties: dict[str, Any], name: str) -> dict[str, Any]:
    """The --about schema of a setting; `a.b` is property b of object setting a."""
    top, _, sub = name.partition(".")
    assert top in properties, f"setting {name} is not in --about"
    if not sub:
        return properties[top]
    children = properties[top].get("properties", {})
    assert sub in children, f"setting {name}: {top} has no property {sub} in --about"
    return children[sub]


def check_settings_match_about(
    where: str, settings: list[dict[str, Any]], about_settings: dict[str, Any]
) -> None:
    properties = about_settings["properties"]
    names = [s["name"] for s in settings]
    assert len(names) == len(set(names)), f"{where}: a setting is defined twice"
    # Every --about property appears, as itself or as all of its sub-properties (the Hub's
    # way with objects such as faker_config), and nothing else does.
    covered: dict[str, set[str]] = {}
    for name in names:
        top, _, sub = name.partition(".")
        covered.setdefault(top, set()).add(sub)
    assert set(covered) == set(properties), f"{where}: settings differ from --about"
    for top, subs in covered.items():
        if subs != {""}:
            assert "" not in subs, f"{where}: {top} is defined both whole and by parts"
            assert subs == set(properties[top].get("properties", {})), (
                f"{where}: {top} must name all of its properties or none"
            )
    for setting in settings:
        name, kind = setting["name"], setting.get("kind")
        schema = property_of(properties, name)
        types = json_types(schema)
        allowed = set().union(*(KINDS[t] for t in types)) if types else set(KINDS["string"])
        assert kind in allowed, f"{where}: {name} is {types} in --about, not kind {kind}"
        assert setting.get("description"), f"{where}: {name} has no description"
        assert bool(setting.get("sensitive")) == bool(schema.get("secret")), (
            f"{where}: {name} sensitive={setting.get('sensitive')} but --about "
            f"secret={schema.get('secret')}"
        )
        if "enum" in schema:
            assert kind == "options", f"{where}: {name} has allowed values, not kind options"
            values = [option["value"] for option in setting["options"]]
            assert values == schema["enum"], f"{where}: {name} options differ from --about"
        if "default" in schema:
            assert setting.get("value") == schema["default"], (
                f"{where}: default of {name} is {schema['default']!r} in --about"
            )
        else:
            assert "value" not in setting, f"{where}: {name} has a default --about lacks"
    required = about_settings.get("required", [])
    assert all(name in names for name in required)


def test_meltano_yml_hub_definition_and_about_agree():
    info = about()
    project = meltano_project()
    loader = plugin(project, "loaders", LOADER)
    hub = yaml.safe_load(HUB_YML.read_text())

    # meltano.yml is a valid project for the Meltano we test with, whose schema does not
    # know the SDK's validate-records capability yet (Meltano itself ignores it).
    schema = resources.files("meltano.schemas").joinpath("meltano.schema.json").read_text()
    checked = copy.deepcopy(project)
    for definition in checked["plugins"]["loaders"]:
        definition["capabilities"].remove("validate-records")
    jsonschema.validate(checked, json.loads(schema))

    # The Hub file has the Hub's fields and is named after its variant, our own: it claims
    # no Hub page, repository or logo that does not exist, and installs from the place
    # README.md has the user name.
    assert set(hub) >= HUB_FIELDS, f"missing: {HUB_FIELDS - set(hub)}"
    assert hub["variant"] == HUB_YML.stem == LOADER
    assert not {"docs", "repo", "logo_url"} & set(hub)
    assert "meltanolabs" not in HUB_YML.read_text().lower()
    assert hub["pip_url"] == "${INTERCOM_LOADER_PIP_URL}"
    assert hub["maintenance_status"] in {"active", "beta", "development", "inactive", "unknown"}
    for setting in hub["settings"]:
        assert {"name", "kind", "label", "description"} <= set(setting), setting["name"]

    # Identity: both name the plugin the package installs.
    for where, definition in (("meltano.yml", loader), ("hub", hub)):
        assert definition["name"] == info["name"] == LOADER, where
        assert definition["namespace"] == "target_intercom", where
        assert definition["executable"] == LOADER, where
        assert set(definition["capabilities"]) == set(info["capabilities"]), where
        required = set(info["settings"]["required"])
        assert [set(group) for group in definition["settings_group_validation"]] == [required]
        check_settings_match_about(where, definition["settings"], info["settings"])
    scripts = {ep.name for ep in entry_points(group="console_scripts")}
    assert LOADER in scripts
    assert loader["pip_url"] == "-e ."

    # Same settings in both files, with the same kinds.
    def shape(settings: list[dict[str, Any]]) -> dict[str, tuple]:
        return {s["name"]: (s["kind"], bool(s.get("sensitive")), s.get("value")) for s in settings}

    assert shape(loader["settings"]) == shape(hub["settings"])
    token = next(s for s in loader["settings"] if s["name"] == "access_token")
    assert token["sensitive"] is True
    assert info["settings"]["properties"]["access_token"].get("secret") is True

    # The demo project writes only to the fake on this machine, never to a real workspace.
    assert loader["config"] == {"api_base_url": "http://127.0.0.1:8000"}
    assert not [e for e in project["environments"] if "config" in e]

    # The extractor runs from the repository, offline, and resumes from state.
    tap = plugin(project, "extractors", EXTRACTOR)
    assert "pip_url" not in tap and "variant" not in tap
    assert "state" in tap["capabilities"]
    script = ROOT / tap["executable"]
    assert script.is_file() and os.access(script, os.X_OK)


# ------------------------------------------------------------------------ meltano runs


def meltano_exe() -> str:
    beside = Path(sys.executable).with_name("meltano")
    found = str(beside) if beside.exists() else shutil.which("meltano")
    assert found, "meltano is a test dependency: pip install -e '.[test]'"
    return found


def make_project(dest: Path) -> Path:
    """A copy of the project: meltano.yml with the loader installed from this checkout, and
    the extractor script."""
    dest.mkdir(parents=True, exist_ok=True)
    text = MELTANO_YML.read_text()
    line = "    pip_url: -e .\n"
    assert text.count(line) == 1, "meltano.yml should install the loader with `pip_url: -e .`"
    text = text.replace(line, f"    pip_url: -e {shlex.quote(str(ROOT))}\n")
    (dest / "meltano.yml").write_text(text)
    shutil.copytree(TAP_DIR, dest / "tests" / "meltano")
    return dest


def meltano_env(project: Path, **extra: Any) -> dict[str, str]:
    """The environment for Meltano: nothing inherited that configures Meltano or the
    plugins, and nothing that would make Meltano reach the network."""
    prefixes = ("MELTANO_", "TARGET_INTERCOM_", "TAP_DEMO_USERS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(
        {
            "MELTANO_PROJECT_ROOT": str(project),
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_DISABLE_TRACKING": "true",
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
            "MELTANO_SNOWPLOW_COLLECTOR_ENDPOINTS": "[]",
            # A closed port: if Meltano ever looked a plugin up on the Hub, it would fail
            # at once instead of reaching hub.meltano.com.
            "MELTANO_HUB_URL": "http://127.0.0.1:9",
            "MELTANO_HUB_API_ROOT": "http://127.0.0.1:9/meltano/api/v1",
            "MELTANO_AUTO_INSTALL": "false",
            "MELTANO_CLI_LOG_LEVEL": "info",
            "NO_COLOR": "1",
        }
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def meltano(
    project: Path, *args: str, env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [meltano_exe(), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def installed_loader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`meltano install` once per session; the tests' projects link to its loader venv."""
    base = make_project(tmp_path_factory.mktemp("meltano-install") / "project")
    done = meltano(base, "install", env=meltano_env(base), timeout=600)
    assert done.returncode == 0, done.stderr[-5000:]
    venv = base / ".meltano" / "loaders" / LOADER
    assert (venv / "venv" / "bin" / LOADER).exists(), done.stderr[-5000:]
    return venv


@pytest.fixture
def project(tmp_path: Path, installed_loader: Path) -> Iterator[Path]:
    """A fresh project (its own .meltano/meltano.db) using the session's loader venv."""
    root = make_project(tmp_path / "project")
    loaders = root / ".meltano" / "loaders"
    loaders.mkdir(parents=True)
    (loaders / LOADER).symlink_to(installed_loader, target_is_directory=True)
    yield root


def run_env(project: Path, fake, **extra: Any) -> dict[str, str]:
    return meltano_env(
        project,
        TARGET_INTERCOM_ACCESS_TOKEN=TOKEN,
        TARGET_INTERCOM_API_BASE_URL=fake.url,
        **extra,
    )


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def final_bookmarks(count: int) -> dict[str, Any]:
    """The STATE tap-demo-users ends with after `count` users and events."""
    last = EPOCH + timedelta(minutes=count)
    return {
        "bookmarks": {
            "events": {
                "replication_key": "created_at",
                "replication_key_value": stamp(last + timedelta(seconds=30)),
            },
            "users": {"replication_key": "created_at", "replication_key_value": stamp(last)},
        }
    }


def position(bookmark: str) -> int:
    """The user number a users/events bookmark stands for (users signed up i minutes in)."""
    moment = datetime.strptime(bookmark, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return int((moment - EPOCH).total_seconds() // 60)


def user_ids(count: int, start: int = 1) -> list[str]:
    return [f"demo-{i:06d}" for i in range(start, count + 1)]


def contact_counts(fake) -> Counter:
    return Counter(c.get("external_id") for c in fake.contacts())


def event_counts(fake) -> Counter:
    return Counter(e["user_id"] for e in fake.events() if e["event_name"] == "signed-up")


def state_get(project: Path, env: dict[str, str]) -> dict[str, Any]:
    done = meltano(project, "state", "get", STATE_ID, env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def stored_state(project: Path) -> dict[str, Any] | None:
    """The state Meltano has stored for the job, read straight from its system database
    (cheap enough to poll while `meltano run` writes to it)."""
    database = project / ".meltano" / "meltano.db"
    if not database.exists():
        return None
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as connection:
            row = connection.execute(
                "SELECT completed_state FROM state WHERE state_id = ?", (STATE_ID,)
            ).fetchone()
    except sqlite3.OperationalError:  # not created yet, or busy
        return None
    if not row or not row[0]:
        return None
    return json.loads(row[0]).get("singer_state") or None


@pytest.mark.slow
def test_meltano_run_loads_everything_once_and_stores_the_bookmark(fake, project):
    count = 120
    env = run_env(project, fake, TAP_DEMO_USERS_RECORD_COUNT=count, TAP_DEMO_USERS_STATE_EVERY=25)

    done = meltano(project, "run", EXTRACTOR, LOADER, env=env)

    output = done.stdout + done.stderr
    assert done.returncode == 0, done.stderr[-5000:]
    assert TOKEN not in output
    assert contact_counts(fake) == Counter(user_ids(count))
    assert event_counts(fake) == Counter(user_ids(count))
    calls = fake.call_counts()
    assert calls["POST /contacts"] == count
    assert calls["POST /events"] == count
    assert state_get(project, env) == {"singer_state": final_bookmarks(count)}

    # The next run resumes after the bookmark: nothing new, nothing sent.
    again = meltano(project, "run", EXTRACTOR, LOADER, env=env)
    assert again.returncode == 0, again.stderr[-5000:]
    writes = {
        route: n - calls[route]
        for route, n in fake.call_counts().items()
        if not route.startswith("GET ") and n != calls[route]
    }
    assert writes == {}
    assert state_get(project, env) == {"singer_state": final_bookmarks(count)}


def target_process(meltano_run: subprocess.Popen) -> psutil.Process | None:
    """The loader's process among `meltano run`'s children: the one running the venv's
    target-intercom script (meltano's own command line names the plugin too)."""
    try:
        children = psutil.Process(meltano_run.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    for child in children:
        try:
            cmdline = child.cmdline()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if any(part.endswith(f"/bin/{LOADER}") for part in cmdline) and "--config" in cmdline:
            return child
    return None


def users_stored_in(project: Path) -> int:
    """How many users the state Meltano has stored so far covers."""
    state = stored_state(project)
    if not state or "users" not in state.get("bookmarks", {}):
        return 0
    return position(state["bookmarks"]["users"]["replication_key_value"])


def kill_target_after(
    project: Path, env: dict[str, str], fake, log: Path, *, users: int
) -> tuple[int, int]:
    """Starts `meltano run`, SIGKILLs the target once Meltano has stored a STATE covering
    `users` users, and waits for Meltano to give up. Returns Meltano's exit status and how
    many contacts the fake held right after the kill."""
    with log.open("w") as output:
        run = subprocess.Popen(
            [meltano_exe(), "run", EXTRACTOR, LOADER],
            cwd=project,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            target = None
            while time.monotonic() < deadline and run.poll() is None:
                target = target or target_process(run)
                if target is not None and users_stored_in(project) >= users:
                    break
                time.sleep(0.05)
            assert run.poll() is None, f"the run ended before the kill:\n{log.read_text()}"
            assert target is not None, "found no target-intercom process under meltano run"
            target.send_signal(signal.SIGKILL)
            at_kill = len(fake.contacts())
            return run.wait(timeout=120), at_kill
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()


@pytest.mark.slow
def test_killed_target_resumes_from_the_last_stored_state(fake, project, tmp_path):
    """SIGKILL the target partway; every record before the last STATE Meltano
    stored is in Intercom, and the next run sends only what came after it."""
    count, every = 3000, 50
    fake.configure(latency=0.02)
    env = run_env(
        project,
        fake,
        TAP_DEMO_USERS_RECORD_COUNT=count,
        TAP_DEMO_USERS_STATE_EVERY=every,
        # About 12 s of tap for the whole load, so that the kill lands early in it.
        TAP_DEMO_USERS_SLEEP_PER_RECORD=0.002,
    )
    log = tmp_path / "run1.log"

    status, at_kill = kill_target_after(project, env, fake, log, users=6 * every)

    first = log.read_text()
    assert status != 0, first[-5000:]
    assert at_kill < count, "the load was over before the kill; slow the tap down"
    assert TOKEN not in first

    stored = state_get(project, env)["singer_state"]
    users_done = position(stored["bookmarks"]["users"]["replication_key_value"])
    events_done = position(stored["bookmarks"]["events"]["replication_key_value"])
    assert users_done < count
    # The promise of a STATE: every record before it is in Intercom.
    contacts, events = contact_counts(fake), event_counts(fake)
    assert not [u for u in user_ids(users_done) if contacts[u] != 1]
    assert not [u for u in user_ids(events_done) if events[u] != 1]
    before = fake.call_counts()

    fake.configure(latency=0.0)
    env["TAP_DEMO_USERS_SLEEP_PER_RECORD"] = "0"
    run2 = meltano(project, "run", EXTRACTOR, LOADER, env=env, timeout=300)
    assert run2.returncode == 0, run2.stderr[-5000:]

    assert contact_counts(fake) == Counter(user_ids(count))
    assert event_counts(fake) == Counter(user_ids(count))
    assert state_get(project, env) == {"singer_state": final_bookmarks(count)}
    after = fake.call_counts()
    sent = {route: after[route] - before[route] for route in after}
    # Only the records after the stored STATE go out again.
    assert sent.get("POST /contacts", 0) <= count - users_done
    assert sent.get("POST /events", 0) <= count - events_done
    print(
        f"\nkilled with {at_kill} contacts in the fake; stored STATE at user {users_done}, "
        f"event {events_done}; run 2 calls: {dict(sorted(sent.items()))}"
    )


@pytest.mark.slow
def test_under_meltano_run_a_failure_shows_as_an_error_line(fake, project):
    """The target fails at its start (a wrong token) while the tap still has seconds of
    records to send: its error line is the last line of the target's, and Meltano follows
    it with its own few lines, not with tracebacks of a write into a closed pipe."""
    env = run_env(
        project,
        fake,
        TAP_DEMO_USERS_RECORD_COUNT=3000,
        TAP_DEMO_USERS_SLEEP_PER_RECORD=0.0003,
    )
    env["TARGET_INTERCOM_ACCESS_TOKEN"] = "tok_wrong_0123456789abcdef"

    done = meltano(project, "run", EXTRACTOR, LOADER, env=env)

    assert done.returncode != 0
    lines = (done.stdout + done.stderr).splitlines()
    failed = [line for line in lines if "target-intercom failed:" in line]
    assert len(failed) == 1, "\n".join(lines[-40:])
    assert "[error" in failed[0], failed
    assert "tok_wrong_0123456789abcdef" not in done.stdout + done.stderr
    after = lines[lines.index(failed[0]) + 1 :]
    assert not [line for line in after if f" {LOADER} " in line], after
    assert "Traceback" not in "\n".join(after) and "BrokenPipeError" not in "\n".join(after)
    assert len(after) <= 5, "\n".join(after)
