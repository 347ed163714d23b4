"""What a user sees: `target-intercom-demo` streams the target's log and STATE lines while
the load runs and ends by saying what was loaded, and `fake-intercom --help` names the
token the fake accepts and its control endpoints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def script(name: str) -> str:
    """A console script of the fake-intercom distribution, installed beside this Python."""
    return str(Path(sys.executable).with_name(name))


def test_demo_streams_the_targets_output_and_ends_with_what_was_loaded() -> None:
    # 100 users, three times the target's 32 calls in flight, at 0.1 s a call: the first
    # users are in Intercom (and their STATE out) about a second before the last ones.
    demo = subprocess.Popen(
        [script("target-intercom-demo"), "--users", "100", "--latency", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the target's log, as a terminal shows it
        text=True,
    )
    assert demo.stdout is not None
    lines = [line.rstrip("\n") for line in demo.stdout]
    assert demo.wait(timeout=60) == 0, "\n".join(lines)
    output = "\n".join(lines)

    pattern = re.compile(
        r'STATE \{"bookmarks": \{"users": \{"last": (\d+)\}\}\}  <- (\d+) of 100 users are in '
        r"Intercom"
    )
    # (line number, last user in the STATE, users it says are in Intercom)
    states = [
        (i, int(match[1]), int(match[2]))
        for i, line in enumerate(lines)
        if (match := pattern.fullmatch(line))
    ]
    assert states, output
    assert all(confirmed == last + 1 for _, last, confirmed in states), output
    # Streamed, not collected at the end: a STATE from the middle of the run comes before
    # the target's closing log lines, which it writes only once all 100 users are in.
    summary = next(i for i, line in enumerate(lines) if "SUMMARY:" in line)
    first_line, first_last, _ = states[0]
    assert first_last < 99, output
    assert first_line < summary, output
    assert states[-1][1] == 99, output

    assert lines[-3:] == [
        "Loaded into the fake Intercom: 100 contacts, 3 companies, 100 memberships, 100 events "
        "and 100 contact tags (the demo's input: 100 users, 3 companies, 100 events).",
        'The last STATE the target wrote was {"bookmarks": {"users": {"last": 99}}} '
        "(user-99 and everything the demo sent before it are in Intercom): Meltano would "
        "store it and the next run would resume after it.",
        "To load your own data with Meltano, see README.md → Using it with Meltano.",
    ], output
    assert "target-intercom finished in" in lines[-4], output


def test_the_demo_points_to_a_readme_section_that_exists() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "\n## Using it with Meltano\n" in readme


def test_fake_intercom_help_names_its_token_endpoints_and_options() -> None:
    done = subprocess.run(
        [script("fake-intercom"), "--help"], capture_output=True, text=True, check=True
    )
    for text in (
        "Authorization: Bearer secret-token",
        "GET  /_fake/state",
        "POST /_fake/reset",
        "POST /_fake/configure",
        "POST /_fake/merge",
        '{"url": "http://127.0.0.1:PORT"}',
        "--token",
        "--port",
        "--latency",
        "--fault-rate",
    ):
        assert text in done.stdout, done.stdout
