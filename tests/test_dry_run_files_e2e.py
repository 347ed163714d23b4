"""A dry run leaves no file behind (no dead-letter file, no sync store, no folder for either),
and its closing lines say what a real run would have dead-lettered."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import STR, config_for, record, run_target, schema

USERS = schema("users", {"id": STR, "email": STR, "plan": STR}, ["id"])
MESSAGES = [
    USERS,
    record("users", {"id": "u1", "email": "u1@example.com"}),
    record("users", {"id": "u2", "email": "u2@example.com", "plan": "pro"}),  # unknown attribute
    record("users", {"email": None}),  # no identity
    record("users", {"id": "u4", "email": "u4@example.com", "plan": "free"}),
]


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_dry_run_writes_no_file_and_says_what_it_would_have_dead_lettered(fake, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    config = config_for(
        fake,
        dry_run=True,
        on_record_error="skip",
        dead_letter_path=str(project / "errors" / "dead-letter.jsonl"),
        sync_store_path=str(project / "sync.db"),
    )

    run = run_target(config, MESSAGES, tmp_path)

    assert run.returncode == 0, run.stderr
    assert files_under(project) == {}
    assert not (project / "errors").exists()
    assert fake.contacts() == []
    lines = run.stderr.splitlines()
    assert "Records: 4 received: 1 would be sent (dry run), 3 would be dead-lettered" in run.stderr
    [closing] = [line for line in lines if "Dry run would have dead-lettered" in line]
    assert (
        f"Dry run would have dead-lettered 3 records to {project / 'errors' / 'dead-letter.jsonl'}"
        " (nothing was written): 2 users (unknown_attribute), 1 users (no_identity)"
    ) in closing
    assert not [line for line in lines if "written to the dead-letter file" in line]
    assert "skipped and written to" not in run.stderr
    assert "DRY RUN: nothing was written to Intercom" in lines[-1]


def test_a_dry_run_leaves_an_existing_sync_store_and_dead_letter_file_as_they_were(fake, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    config = config_for(
        fake,
        on_record_error="skip",
        dead_letter_path=str(project / "dead-letter.jsonl"),
        sync_store_path=str(project / "sync.db"),
    )
    first = run_target(config, MESSAGES, tmp_path)
    assert first.returncode == 0, first.stderr
    before = files_under(project)
    assert set(before) == {"sync.db", "dead-letter.jsonl"}

    again = run_target({**config, "dry_run": True}, MESSAGES, tmp_path)

    assert again.returncode == 0, again.stderr
    assert files_under(project) == before
    assert "Dry run would have dead-lettered 3 records" in again.stderr
