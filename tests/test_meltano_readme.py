"""README.md's "Using it with Meltano", under the real Meltano 4: `meltano config set` takes a
value of every setting kind the loader declares, and the README's commands, run as written,
add the loader from the Hub definition file, configure it and load into the fake."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT, TOKEN
from tests.test_meltano import (
    EXTRACTOR,
    HUB_YML,
    LOADER,
    MELTANO_YML,
    TAP_DIR,
    about,
    contact_counts,
    event_counts,
    make_project,
    meltano,
    meltano_env,
    meltano_exe,
    user_ids,
)

README = (ROOT / "README.md").read_text()
CHECKOUT = "/path/to/target-intercom"


def meltano_section() -> str:
    return README.split("## Using it with Meltano\n", 1)[1].split("\n## ", 1)[0]


def bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)\n```", meltano_section(), flags=re.S)


def readme_commands() -> list[str]:
    """The lines of the section's first bash block: from a project without the loader to a
    run."""
    return bash_blocks()[0].splitlines()


def config_print(project: Path, env: dict[str, str]) -> dict[str, Any]:
    done = meltano(project, "config", "print", LOADER, env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def config_list(project: Path, env: dict[str, str]) -> str:
    done = meltano(project, "config", "list", LOADER, env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_readme_uses_meltano_4_commands():
    section = meltano_section()
    commands = readme_commands()
    # Meltano 4 has `meltano config set <plugin> ...`; `meltano config <plugin> set` is gone.
    assert not re.search(r"meltano config (?!(set|list|print)\b)", section)
    assert [c for c in commands if c.startswith("meltano add ")] == [
        "meltano add --plugin-type loader target-intercom --from-ref "
        f"{CHECKOUT}/{HUB_YML.relative_to(ROOT)}"
    ]
    # The pip URL goes to meltano.yml, which the team shares; .env holds secrets only.
    assert commands[:4] == [
        "cat >> meltano.yml <<'EOF'",
        "env:",
        f"  INTERCOM_LOADER_PIP_URL: {CHECKOUT}",
        "EOF",
    ]
    assert not [c for c in commands if ".env" in c]
    # The PostgreSQL store's install: the extra in the pip URL, and the loader installed again.
    assert f"  INTERCOM_LOADER_PIP_URL: {CHECKOUT}[postgres]" in meltano_section()
    assert bash_blocks()[1] == "meltano install --clean loader target-intercom"
    assert "meltanolabs" not in section.lower()
    # The header of the demo project uses the same syntax.
    header = "".join(line for line in MELTANO_YML.read_text().splitlines(True) if line[:1] == "#")
    assert "meltano config set target-intercom" in header
    assert not re.search(r"meltano config (?!set\b)", header)


# One value of each kind of setting the loader declares, as typed on the command line, and
# the value the loader is then configured with.
VALUES: dict[str, tuple[str, str, Any]] = {
    "string": ("api_version", "2.15", "2.15"),
    "sensitive string": ("access_token", TOKEN, TOKEN),
    "integer": ("max_retries", "3", 3),
    "decimal": ("request_timeout", "2.5", 2.5),
    "boolean": ("dry_run", "true", True),
    "array": ("lookup_fields", '["email", "phone"]', ["email", "phone"]),
    "object": ("stream_maps", '{"accounts": {"__alias__": "users"}}', None),
    "options": ("region", "eu", "eu"),
}


@pytest.mark.slow  # nine Meltano commands
def test_meltano_config_set_takes_every_kind_of_setting(tmp_path):
    project = make_project(tmp_path / "project")
    env = meltano_env(project)
    hub = yaml.safe_load(HUB_YML.read_text())
    kinds = {s["name"]: s["kind"] for s in hub["settings"]}
    for label, (name, typed, _) in VALUES.items():
        kind = label.split()[-1]
        assert kinds[name] == kind, f"{name} is kind {kinds[name]}, not {kind}"
        done = meltano(project, "config", "set", LOADER, name, typed, env=env, timeout=60)
        assert done.returncode == 0, f"{name}={typed}: {done.stderr[-3000:]}"
    # Every kind the loader uses is covered.
    assert set(kinds.values()) <= {label.split()[-1] for label in VALUES}

    listed = config_list(project, env)
    # Meltano lists the keys inside an object setting as custom settings of their own
    # (stream_maps.accounts.__alias__); nothing else is custom.
    custom = listed.partition("Custom, possibly unsupported by the plugin:\n")[2]
    custom_names = [line.split()[0] for line in custom.split("\n\n")[0].splitlines()]
    assert all(name.startswith("stream_maps.") for name in custom_names), listed
    for name, _, wanted in VALUES.values():
        if name != "access_token" and wanted is not None:
            assert f"{name} [env: TARGET_INTERCOM_{name.upper()}]" in listed
            assert f"current value: {wanted!r} (from `meltano.yml`)" in listed
    assert (
        "current value: (redacted) (from the TARGET_INTERCOM_ACCESS_TOKEN variable in `.env`)"
        in (listed)
    )
    # The token went to .env, not meltano.yml.
    assert TOKEN not in (project / "meltano.yml").read_text()
    assert TOKEN in (project / ".env").read_text()

    config = config_print(project, env)
    for name, _, wanted in VALUES.values():
        if name != "access_token" and wanted is not None:
            assert config[name] == wanted and type(config[name]) is type(wanted), name
    assert config["stream_maps"] == {"accounts": {"__alias__": "users"}}
    # What the loader gets has the types --about gives (2.5 a number, not text).
    properties = about()["settings"]["properties"]
    for name, _, wanted in VALUES.values():
        if name != "access_token" and wanted is not None:
            jsonschema.Draft7Validator(properties[name]).validate(config[name])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_readme_meltano_steps_as_written_load_into_the_fake(fake, tmp_path):
    """The section's commands, with the checkout's path for /path/to/target-intercom and the
    offline tap-demo-users for tap-postgres, in a project that has only the tap."""
    project = readme_project(tmp_path / "project")
    count = 20
    done = run_readme_steps(project, fake, count)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    assert TOKEN not in output

    # Added from the Hub file: every setting declared, none of them custom; the pip URL in
    # meltano.yml, the token alone in .env.
    added = yaml.safe_load((project / "meltano.yml").read_text())
    [loader] = added["plugins"]["loaders"]
    assert loader["variant"] == LOADER
    assert loader["pip_url"] == "${INTERCOM_LOADER_PIP_URL}"
    assert added["env"] == {"INTERCOM_LOADER_PIP_URL": str(ROOT)}
    assert loader["config"] == {"region": "eu", "on_record_error": "skip"}
    listed = config_list(project, meltano_env(project))
    assert "Custom" not in listed and "unsupported" not in listed, listed
    assert TOKEN not in (project / "meltano.yml").read_text()
    assert (project / ".env").read_text().splitlines() == [
        f"TARGET_INTERCOM_ACCESS_TOKEN='{TOKEN}'"
    ]

    # And the run loaded everything into the fake.
    assert contact_counts(fake) == Counter(user_ids(count))
    assert event_counts(fake) == Counter(user_ids(count))


def readme_project(project: Path) -> Path:
    """A Meltano project with the offline tap and no loader, as a user's project would be."""
    project.mkdir(parents=True)
    definition = yaml.safe_load(MELTANO_YML.read_text())
    del definition["plugins"]["loaders"]
    assert "env" not in definition
    (project / "meltano.yml").write_text(yaml.safe_dump(definition, sort_keys=False))
    shutil.copytree(TAP_DIR, project / "tests" / "meltano")
    return project


def run_readme_steps(project: Path, fake, count: int) -> subprocess.CompletedProcess:
    """The section's first bash block, run as written in `project`."""
    commands = readme_commands()
    assert commands[-1] == "meltano run tap-postgres target-intercom"
    script = "\n".join(commands)
    assert str(ROOT) == shlex.quote(str(ROOT)), "a checkout path the README's quoting fits"
    script = script.replace(CHECKOUT, str(ROOT))
    script = script.replace("meltano run tap-postgres ", f"meltano run {EXTRACTOR} ")
    env = meltano_env(
        project,
        INTERCOM_TOKEN=TOKEN,
        # The fake, not Intercom: overrides the region the README sets.
        TARGET_INTERCOM_API_BASE_URL=fake.url,
        TAP_DEMO_USERS_RECORD_COUNT=count,
        PATH=f"{Path(meltano_exe()).parent}:{meltano_env(project)['PATH']}",
    )
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def git_files(project: Path, dest: Path) -> Path:
    """What a clone of the project has: everything but what `meltano init` puts in
    .gitignore (.env, .meltano/, the plugins' venvs) and the sync store."""
    shutil.copytree(
        project,
        dest,
        ignore=shutil.ignore_patterns(".env", ".meltano", "venv", "target-intercom-sync.db*"),
    )
    return dest


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_teammates_clone_of_the_readme_project_installs_and_runs(fake, postgres, tmp_path):
    """The project the README's steps leave, cloned to another path (no .env, nothing
    installed): `meltano install` and a run with the teammate's own token; then the
    PostgreSQL sync store, missing its driver and then installed as the README says."""
    count = 10
    made = run_readme_steps(readme_project(tmp_path / "mine"), fake, count)
    assert made.returncode == 0, (made.stdout + made.stderr)[-5000:]

    clone = git_files(tmp_path / "mine", tmp_path / "elsewhere" / "clone")
    assert not (clone / ".env").exists()
    env = meltano_env(clone)
    installed = meltano(clone, "install", env=env, timeout=300)
    assert installed.returncode == 0, installed.stderr[-5000:]
    env.update(
        TARGET_INTERCOM_ACCESS_TOKEN=TOKEN,
        TARGET_INTERCOM_API_BASE_URL=fake.url,
        TAP_DEMO_USERS_RECORD_COUNT=str(count),
    )
    ran = meltano(clone, "run", EXTRACTOR, LOADER, env=env, timeout=300)
    assert ran.returncode == 0, ran.stderr[-5000:]
    assert contact_counts(fake) == Counter(user_ids(count))  # each contact still once

    # The PostgreSQL sync store with the loader as installed: one line naming the extra.
    database = f"sync_{time.monotonic_ns()}"
    postgres.sql(f"create database {database}")
    password = "Pw-s3cret-0123"
    env["TARGET_INTERCOM_SYNC_STORE_URL"] = (
        f"postgresql+psycopg://{postgres.user}:{password}@{postgres.host}:{postgres.port}/"
        f"{database}"
    )
    failed = meltano(clone, "run", EXTRACTOR, LOADER, env=env, timeout=300)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    [line] = [line for line in output.splitlines() if "target-intercom failed:" in line]
    assert (
        "needs the PostgreSQL driver psycopg, which comes with target-intercom's postgres" in line
    )
    assert "meltano install --clean loader target-intercom" in line
    assert password not in output

    # As the README says: the extra in the pip URL, the loader installed again.
    text = (clone / "meltano.yml").read_text()
    line = f"  INTERCOM_LOADER_PIP_URL: {ROOT}\n"
    assert text.count(line) == 1
    (clone / "meltano.yml").write_text(
        text.replace(line, f"  INTERCOM_LOADER_PIP_URL: {ROOT}[postgres]\n")
    )
    [reinstall] = bash_blocks()[1:2]
    again = meltano(clone, *shlex.split(reinstall)[1:], env=env, timeout=300)
    assert again.returncode == 0, again.stderr[-5000:]
    ran = meltano(clone, "run", EXTRACTOR, LOADER, env=env, timeout=300)
    assert ran.returncode == 0, ran.stderr[-5000:]
    assert password not in ran.stdout + ran.stderr
    tables = postgres.sql(
        "select count(*) from information_schema.tables where table_schema = 'public'",
        database=database,
    )
    assert int(tables.strip()) > 0
    assert contact_counts(fake) == Counter(user_ids(count))
    postgres.sql(f"drop database {database} with (force)")
