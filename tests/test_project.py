"""The project's own promises: lint-clean code, a README that matches `--about`, and a
CI script that runs exactly the README's test command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from target_intercom.waits import Waits

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_ruff_lint_and_format_are_clean():
    ruff = Path(sys.executable).with_name("ruff")
    for args in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run([str(ruff), *args], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def about(output_format: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "target_intercom", "--about", f"--format={output_format}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_readme_settings_table_is_the_about_output():
    table = [line for line in about("markdown").splitlines() if line.startswith("|")]
    block = README.split("<!-- settings:start -->")[1].split("<!-- settings:end -->")[0]
    assert [line for line in block.splitlines() if line.startswith("|")] == table


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(python3 -m venv .*?)\n```", README)
    assert len(commands) == 2, commands
    demo, tests = commands
    assert "target-intercom-demo" in demo
    assert tests in (ROOT / ".ci" / "run").read_text().splitlines()


def test_the_waits_the_readme_quotes_are_the_production_defaults():
    waits = Waits()
    first, second = waits.conflict_retries
    assert f"is tried again twice ({first:g} s, then {second:g} s later" in README
    assert f"searches for the lead for up to {waits.lead_search_total:g} s" in README
    assert f"search does not show within {waits.lead_search_total:g} s" in README


def test_about_marks_the_token_secret():
    settings = json.loads(about("json"))["settings"]
    assert settings["properties"]["access_token"].get("secret") is True
    assert "access_token" in settings["required"]
