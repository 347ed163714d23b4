"""Bad input and bad settings: one clear line, a non-zero exit, and nothing before it lost.

What a bad line or a bad setting shows is the CLI's exit code and what reaches the real
stderr, so those runs are the real CLI in a subprocess; the fuzz runs its many cases in
process and replays one clean and one failed case through the CLI."""

from __future__ import annotations

import json
import random

import pytest

from tests.conftest import (
    INT,
    STR,
    TOKEN,
    config_for,
    record,
    run_cli,
    run_target,
    schema,
    state,
)

USERS = schema("users", {"id": STR, "email": STR, "seats": INT}, ["id"])
GOOD = [USERS, record("users", {"id": "u1", "email": "a@x.io"}), state({"at": 1})]


def failure_lines(run) -> list[str]:
    return [line for line in run.stderr.splitlines() if "target-intercom failed" in line]


def assert_one_clear_line(run, *needles: str) -> None:
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    lines = failure_lines(run)
    assert len(lines) == 1, run.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("bad", "needles"),
    [
        ('{"type": "RECORD", "stream": "users", "record": {', ("input line 4", "not valid JSON")),
        ("[1, 2, 3]", ("input line 4", "not a Singer message")),
        ('{"type": "RECORD", "stream": "ghosts", "record": {"id": 1}}', ("ghosts", "schema")),
        (
            '{"type": "RECORD", "stream": "users", "record": {"id": "u2", "seats": "many"}}',
            ("id='u2'", "schema"),
        ),
        (
            '{"type": "SCHEMA", "stream": "users", "schema": {"type": "object", '
            '"properties": {"id": {"type": "wat"}}}, "key_properties": ["id"]}',
            ("users", "not valid JSON Schema"),
        ),
        (
            '{"type": "SCHEMA", "stream": "orders", "schema": {"properties": {}}}',
            (
                "'orders'",
                "(users, companies, events, also as <schema>-<table>, or contacts, "
                "identifies, groups, tracks)",
                "__alias__",
            ),
        ),
        ('{"type": "NOPE"}', ("NOPE",)),
    ],
    ids=[
        "malformed-json",
        "not-an-object",
        "record-before-schema",
        "schema-violation",
        "invalid-json-schema",
        "unknown-stream",
        "unknown-message-type",
    ],
)
def test_bad_line_keeps_what_came_before(fake, tmp_path, bad, needles):
    after = [record("users", {"id": "u9", "email": "z@x.io"}), state({"at": 9})]
    run = run_cli(config_for(fake), [*GOOD, bad, *after], tmp_path)
    assert_one_clear_line(run, *needles)
    assert [c["external_id"] for c in fake.contacts()] == ["u1"]
    assert run.states == [{"at": 1}]


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"region": "mars"}, "region"),
        ({"api_base_url": "http://intercom.example.com"}, "https"),
        ({"max_concurrency": -1}, "max_concurrency"),
        (
            {"on_record_error": "skip", "dead_letter_path": "/proc/nope/dead.jsonl"},
            "dead_letter_path",
        ),
    ],
    ids=["region", "http-off-loopback", "negative-concurrency", "unwritable-dead-letter"],
)
def test_bad_setting_is_one_clear_line(fake, tmp_path, settings, needle):
    config = config_for(fake, **settings)
    if "api_base_url" in settings:
        config["api_base_url"] = settings["api_base_url"]
    run = run_cli(config, GOOD, tmp_path)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert needle in run.stderr
    assert TOKEN not in run.stderr + run.stdout
    assert fake.contacts() == []


def assert_clean(run) -> None:
    assert run.returncode in (0, 1), run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert TOKEN not in run.stderr and TOKEN not in run.stdout
    if run.returncode == 1:
        assert len(failure_lines(run)) == 1, run.stderr


# A hang fails the test here rather than the run's own timeout, as the runs are in process.
@pytest.mark.timeout(120)
def test_fuzz_never_hangs_tracebacks_or_leaks(fake, tmp_path):
    rng = random.Random(20261123)
    pieces = [
        '{"type":',
        '"RECORD"',
        '"stream":"users"',
        '"record":',
        "{",
        "}",
        "[",
        "]",
        '"id":"x"',
        "null",
        "1e999",
        '"\\ud800"',
        ",",
        ":",
        TOKEN[:6],
        "\x00",
        "ÿ",
    ]
    replays: dict[tuple[int, str], tuple[dict, list[str]]] = {}
    for case in range(12):
        lines: list[str] = [json.dumps(USERS)]
        for _ in range(25):
            roll = rng.random()
            if roll < 0.4:
                lines.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))))
            elif roll < 0.8:
                rec = {
                    rng.choice(["id", "email", "seats", "x", "tags"]): rng.choice(
                        [None, 1, "s", [], {}, True, 1.5, "a@b.c"]
                    )
                    for _ in range(3)
                }
                lines.append(json.dumps(record("users", rec)))
            else:
                lines.append(json.dumps(state({"n": rng.randint(0, 9)})))
        config = config_for(
            fake,
            on_record_error=rng.choice(["fail", "skip"]),
            dead_letter_path=str(tmp_path / f"dead{case}.jsonl"),
        )
        run = run_target(config, lines, tmp_path)
        assert_clean(run)
        replays.setdefault((run.returncode, config["on_record_error"]), (config, lines))
    # The real CLI on the first case of each way a case ended (exit code, and fail or skip,
    # which writes a dead-letter file): the same exit code, and nothing (no traceback, no
    # token) that only a process's own exit would print.
    assert {mode for _, mode in replays} == {"fail", "skip"}
    for (returncode, _), (config, lines) in sorted(replays.items()):
        run = run_cli(config, lines, tmp_path, timeout=60)
        assert run.returncode == returncode, run.stderr
        assert_clean(run)
