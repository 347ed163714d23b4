"""Records waiting for a contact that may still come later in the input.

Taps emit streams in their own order (tap-postgres: companies, events, users), so an
event or a membership can reach the target before its user. Such a record is parked
here under the keys of the contact it needs, and taken back when a record with one of
those keys is delivered, or at the end of input for a last try.

However many records wait, memory stays bounded: past `in_memory` parked records, the
rest go to a temporary SQLite file (the standard library's), deleted when the run ends,
and nothing of them stays in memory: not the job, not its keys, not its sequence number
(the oldest one, which holds the STATE watermark, is the file's to answer, by its
primary key). A job is data (its record and its plan), so any job can be pickled whole.
"""

from __future__ import annotations

import heapq
import pickle
import sqlite3
from collections.abc import Iterable

from target_intercom.delivery.job import Job

DEFAULT_IN_MEMORY = 10_000
# The heap of parked sequence numbers in memory is rebuilt once it holds this many more
# entries than there are jobs in memory (taken ones leave it lazily, from its head only).
_HEAP_SLACK = 64


class ParkingLot:
    """Parked jobs by sequence number, found again by the contact keys they wait for, and
    by the keys they watch (later records holding one may settle part of a job's plan).

    Not thread-safe: the pool calls it under its lock.
    """

    def __init__(self, in_memory: int = DEFAULT_IN_MEMORY) -> None:
        self._in_memory = in_memory
        self._jobs: dict[int, Job] = {}
        self._waits: dict[str, set[int]] = {}
        self._waits_of: dict[int, set[str]] = {}  # what each job still waits for
        self._watches: dict[str, set[int]] = {}
        self._watches_of: dict[int, tuple[str, ...]] = {}
        self._oldest: list[int] = []  # a heap of the sequence numbers in memory
        self._disk: sqlite3.Connection | None = None
        self._on_disk = 0
        self._watching_on_disk = 0  # of those, the jobs that watch keys
        self._oldest_on_disk: int | None = None  # None: not known, ask the file

    def __len__(self) -> int:
        return len(self._jobs) + self._on_disk

    @property
    def watched(self) -> bool:
        """Whether any parked job watches keys (see `watching`)."""
        return bool(self._watches or self._watching_on_disk)

    def put(
        self, seq: int, job: Job, waits_for: tuple[str, ...], watches: tuple[str, ...] = ()
    ) -> None:
        """Parks a job until every contact it waits for is delivered; past the bound, on disk."""
        if len(self._jobs) >= self._in_memory:
            self._spill(seq, job, waits_for, watches)
            return
        self._jobs[seq] = job
        heapq.heappush(self._oldest, seq)
        self._waits_of[seq] = set(waits_for)
        for key in waits_for:
            self._waits.setdefault(key, set()).add(seq)
        self._watches_of[seq] = watches
        for key in watches:
            self._watches.setdefault(key, set()).add(seq)

    def oldest(self) -> int | None:
        """The smallest sequence number parked, or None: it holds the STATE watermark."""
        while self._oldest and self._oldest[0] not in self._jobs:
            heapq.heappop(self._oldest)
        oldest = self._oldest[0] if self._oldest else None
        if not self._on_disk:
            return oldest
        if self._oldest_on_disk is None:
            assert self._disk is not None
            (self._oldest_on_disk,) = self._disk.execute("SELECT MIN(seq) FROM jobs").fetchone()
        assert self._oldest_on_disk is not None
        return self._oldest_on_disk if oldest is None else min(oldest, self._oldest_on_disk)

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

    def watching(self, keys: Iterable[str]) -> list[tuple[int, Job]]:
        """The parked jobs that watch one of these keys, oldest first; still parked."""
        keys = list(keys)
        found = {seq: self._jobs[seq] for key in keys for seq in self._watches.get(key, ())}
        if self._watching_on_disk:
            assert self._disk is not None
            for key in keys:
                rows = self._disk.execute(
                    "SELECT jobs.seq, blob FROM watches JOIN jobs USING (seq) WHERE key = ?",
                    (key,),
                ).fetchall()
                found.update((seq, pickle.loads(blob)) for seq, blob in rows)
        return sorted(found.items())

    def revise(self, seq: int, job: Job, waits_for: tuple[str, ...]) -> Job | None:
        """Replaces a parked job by a narrower one, which waits only for those of the
        contacts it still waited for that are in `waits_for`. When that leaves none, it is
        no longer parked, and is returned to be run."""
        keep = set(waits_for)
        if seq in self._jobs:
            self._jobs[seq] = job
            for key in self._waits_of[seq] - keep:
                self._unwait(key, seq)
            self._waits_of[seq] &= keep
            return self._take_from_memory(seq) if not self._waits_of[seq] else None
        assert self._disk is not None
        blob = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        self._disk.execute("UPDATE jobs SET blob = ? WHERE seq = ?", (blob, seq))
        waiting = {k for (k,) in self._disk.execute("SELECT key FROM waits WHERE seq = ?", (seq,))}
        self._disk.executemany(
            "DELETE FROM waits WHERE seq = ? AND key = ?", [(seq, k) for k in waiting - keep]
        )
        return self._unspill(seq) if not waiting & keep else None

    def close(self) -> None:
        """Deletes the temporary file, if the lot ever spilled to one."""
        if self._disk is not None:
            self._disk.close()
            self._disk = None

    def _unwait(self, key: str, seq: int) -> None:
        waiting = self._waits.get(key)
        if waiting is not None:
            waiting.discard(seq)
            if not waiting:
                del self._waits[key]

    def _take_from_memory(self, seq: int) -> Job:
        for key in self._waits_of.pop(seq):
            self._unwait(key, seq)
        for key in self._watches_of.pop(seq):
            watching = self._watches[key]
            watching.discard(seq)
            if not watching:
                del self._watches[key]
        if len(self._oldest) > 2 * len(self._jobs) + _HEAP_SLACK:
            self._oldest = sorted(self._jobs)
        return self._jobs.pop(seq)

    def _spill(
        self, seq: int, job: Job, waits_for: tuple[str, ...], watches: tuple[str, ...]
    ) -> None:
        disk = self._open_disk()
        blob = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        disk.execute("INSERT INTO jobs (seq, blob) VALUES (?, ?)", (seq, blob))
        disk.executemany(
            "INSERT INTO waits (key, seq) VALUES (?, ?)", [(k, seq) for k in waits_for]
        )
        if watches:
            disk.executemany(
                "INSERT INTO watches (key, seq) VALUES (?, ?)", [(k, seq) for k in watches]
            )
            self._watching_on_disk += 1
        if not self._on_disk:
            self._oldest_on_disk = seq
        elif self._oldest_on_disk is not None:
            self._oldest_on_disk = min(self._oldest_on_disk, seq)
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
        if self._disk.execute("DELETE FROM watches WHERE seq = ?", (seq,)).rowcount:
            self._watching_on_disk -= 1
        self._on_disk -= 1
        if seq == self._oldest_on_disk:
            self._oldest_on_disk = None
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
            disk.execute("CREATE TABLE watches (key TEXT, seq INTEGER)")
            disk.execute("CREATE INDEX watches_by_key ON watches (key)")
            disk.execute("CREATE INDEX watches_by_seq ON watches (seq)")
            self._disk = disk
        return self._disk
