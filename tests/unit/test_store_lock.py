"""A SQLite store's lock file: one holder at a time, named in the file, removed when the
holder ends, and never held twice through a file removed between an open and its lock."""

from __future__ import annotations

import os
import subprocess
import sys

from target_intercom.store_lock import FileLock


def test_one_run_holds_the_file_at_a_time_and_removes_it_when_it_ends(tmp_path):
    path = tmp_path / "sync.db.lock"
    first, second = FileLock(path, "store"), FileLock(path, "store")
    assert first.try_take()
    assert not second.try_take()
    assert second.holder().startswith(f"target-intercom {os.getpid()}@")
    first.release()
    assert not path.exists()
    assert second.try_take()
    second.release()


def test_a_lock_on_a_file_removed_meanwhile_does_not_count(tmp_path):
    """The second run opens the file just before the first removes it and lets go: it then
    locks a file no one else can open. It must take the lock on the new file instead, so
    that a third run is kept out."""
    path = tmp_path / "sync.db.lock"
    first, second, third = (FileLock(path, "store") for _ in range(3))
    assert first.try_take()
    opened_before = os.open(path, os.O_RDWR)
    opens = iter([opened_before])
    real_open = second._open  # noqa: SLF001 - the moment of the open is what is tested
    second._open = lambda: next(opens, None) or real_open()  # type: ignore[method-assign]  # noqa: SLF001
    first.release()
    assert second.try_take()
    assert path.exists()
    assert not third.try_take()
    second.release()


def test_a_file_left_by_a_killed_run_is_taken_by_the_next(tmp_path):
    path = tmp_path / "sync.db.lock"
    holder = (
        "import fcntl, os, sys; d = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(d, fcntl.LOCK_EX); os.write(d, b'target-intercom 1@gone since then'); "
        "os.kill(os.getpid(), 9)"
    )
    subprocess.run([sys.executable, "-c", holder, str(path)], check=False)
    assert path.read_text() == "target-intercom 1@gone since then"
    lock = FileLock(path, "store")
    assert lock.try_take()
    assert path.read_text().startswith(f"target-intercom {os.getpid()}@")
    lock.release()
