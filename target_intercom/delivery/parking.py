"""Records waiting for a contact that may still come later in the input.

Taps emit streams in their own order (tap-postgres: companies, events, users), so an
event or a membership can reach the target before its user. Such a record is parked
here under the keys of the contact it needs, and taken back when a record with one of
those keys is delivered, or at the end of input for a last try.

However many records wait, memory stays bounded: past `in_memory` parked records, the
rest go to a temporary SQLite file (the standard library's), deleted when the run ends.
A job is data (its record and its plan), so any job can be pickled there whole.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterable

from target_intercom.delivery.job import Job

DEFAULT_IN_MEMORY = 10_000


class ParkingLot:
    """Parked jobs by sequence number, found again by the contact keys they wait for.

    Not thread-safe: the pool calls it under its lock.
    """

    def __init__(self, in_memory: int = DEFAULT_IN_MEMORY) -> None:
        self._in_memory = in_memory
        self._jobs: dict[int, Job] = {}
        self._waits: dict[str, set[int]] = {}
        self._waits_of: dict[int, set[str]] = {}  # what each job still waits for
        self._disk: sqlite3.Connection | None = None
        self._on_disk = 0

    def __len__(self) -> int:
        return len(self._jobs) + self._on_disk

    def put(self, seq: int, job: Job, waits_for: tuple[str, ...]) -> None:
        """Parks a job until every contact it waits for is delivered; past the bound, on disk."""
        if len(self._jobs) >= self._in_memory:
            self._spill(seq, job, waits_for)
            return
        self._jobs[seq] = job
        self._waits_of[seq] = set(waits_for)
        for key in waits_for:
            self._waits.setdefault(key, set()).add(seq)

    def take(self, keys: Iterable[str]) -> list[tuple[int, Job]]:
        """These keys' contacts were delivered: the jobs that waited for nothing else, no
        longer parked. A job waiting for several contacts stays until the last comes."""
        keys = list(keys)
        ready: set[int] = set()
        for key in keys:
            for seq in self._waits.pop(key, ()):
                pending = self._waits_of[seq]
                pending.discard(key)
                if not pending:
                    ready.add(seq)
        taken = [(seq, self._take_from_memory(seq)) for seq in sorted(ready)]
        if self._on_disk:
            taken += self._take_from_disk(keys)
        return taken

    def take_some(self, limit: int) -> list[tuple[int, Job]]:
        """Up to `limit` parked jobs, oldest in memory first: for the last try at the end."""
        seqs = sorted(self._jobs)[:limit]
        taken = [(seq, self._take_from_memory(seq)) for seq in seqs]
        if len(taken) < limit and self._disk is not None and self._on_disk:
            rows = self._disk.execute(
                "SELECT seq FROM jobs ORDER BY seq LIMIT ?", (limit - len(taken),)
            ).fetchall()
            taken += [(seq, self._unspill(seq)) for (seq,) in rows]
        return taken

    def close(self) -> None:
        """Deletes the temporary file, if the lot ever spilled to one."""
        if self._disk is not None:
            self._disk.close()
            self._disk = None

    def _take_from_memory(self, seq: int) -> Job:
        for key in self._waits_of.pop(seq):
            waiting = self._waits.get(key)
            if waiting is not None:
                waiting.discard(seq)
                if not waiting:
                    del self._waits[key]
        return self._jobs.pop(seq)

    def _spill(self, seq: int, job: Job, waits_for: tuple[str, ...]) -> None:
        disk = self._open_disk()
        blob = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        disk.execute("INSERT INTO jobs (seq, blob) VALUES (?, ?)", (seq, blob))
        disk.executemany(
            "INSERT INTO waits (key, seq) VALUES (?, ?)", [(k, seq) for k in waits_for]
        )
        self._on_disk += 1

    def _take_from_disk(self, keys: list[str]) -> list[tuple[int, Job]]:
        assert self._disk is not None
        seqs: set[int] = set()
        for key in keys:
            rows = self._disk.execute("SELECT seq FROM waits WHERE key = ?", (key,)).fetchall()
            self._disk.execute("DELETE FROM waits WHERE key = ?", (key,))
            seqs.update(seq for (seq,) in rows)
        ready = [
            seq
            for seq in sorted(seqs)
            if self._disk.execute("SELECT 1 FROM waits WHERE seq = ?", (seq,)).fetchone() is None
        ]
        return [(seq, self._unspill(seq)) for seq in ready]

    def _unspill(self, seq: int) -> Job:
        assert self._disk is not None
        (blob,) = self._disk.execute("SELECT blob FROM jobs WHERE seq = ?", (seq,)).fetchone()
        self._disk.execute("DELETE FROM jobs WHERE seq = ?", (seq,))
        self._disk.execute("DELETE FROM waits WHERE seq = ?", (seq,))
        self._on_disk -= 1
        job: Job = pickle.loads(blob)
        return job

    def _open_disk(self) -> sqlite3.Connection:
        if self._disk is None:
            # "": SQLite's private temporary file, deleted when closed. The pool's lock
            # serializes every use, from whichever worker thread.
            disk = sqlite3.connect("", check_same_thread=False, isolation_level=None)
            disk.execute("PRAGMA journal_mode = OFF")
            disk.execute("PRAGMA synchronous = OFF")
            disk.execute("CREATE TABLE jobs (seq INTEGER PRIMARY KEY, blob BLOB)")
            disk.execute("CREATE TABLE waits (key TEXT, seq INTEGER)")
            disk.execute("CREATE INDEX waits_by_key ON waits (key)")
            disk.execute("CREATE INDEX waits_by_seq ON waits (seq)")
            self._disk = disk
        return self._disk
