"""The bookkeeping of one run's records and STATEs, kept apart from threads and I/O.

Every rule that makes concurrent delivery safe lives here, so that it can be checked
one call at a time, without timing: which record may start, which STATE may go out,
and when no STATE may ever go out again. The threaded pool around it (`pool.py`)
only executes what these methods return, under one lock.

Deadlock-freedom: a record only ever waits for records that entered the ledger before
it (added, or resumed after waiting parked), and a parked record holds nothing anyone
waits for, so the record that entered first among those unfinished waits for nothing:
some record can always run as long as any is unfinished. Waiting therefore never needs
a timeout, and the pool never needs to look ahead of its window.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from target_intercom import keys

State = dict[str, Any]


@dataclass(slots=True)
class _Open:
    """An unfinished record: what it holds up, and how many records still hold it up."""

    keys: tuple[str, ...]
    waiting_for: int
    dependents: list[int] = field(default_factory=list)


class Parked(Protocol):
    """Where parked records wait: the ledger asks it only for the oldest of them."""

    def oldest(self) -> int | None:
        """The smallest sequence number parked, or None when none is."""
        ...


class _NoneParked:
    def oldest(self) -> int | None:
        return None


# The heap of unfinished records is rebuilt once it holds this many more entries than
# there are unfinished records (finished ones leave it lazily, from its head only).
_HEAP_SLACK = 64


def unshared(key: str) -> tuple[str, bool]:
    """The key's name, and whether it is held shared."""
    if key.startswith(keys.SHARED):
        return key[len(keys.SHARED) :], True
    return key, False


class Ledger:
    """Sequence numbers, ordering keys, the STATE watermark and barriers of one run.

    Records are numbered in input order. A record sharing an ordering key with an
    earlier unfinished record waits for it, so an update never overtakes its create,
    while records about different things run side by side. A key may be held shared
    (`keys.shared`): records holding it shared run side by side, and a record holding
    it outright waits for all of them, as they wait for it (the users of one company,
    and the companies record that changes it).

    A STATE covers every record added before it, so it may go out only once all of
    them are finished: the watermark is the oldest unfinished record. A record that
    was not delivered (it failed, or a stop abandoned it) is a barrier: a STATE
    covering it would tell the tap to resume after a record that never arrived, so no
    STATE at or after it goes out, whatever finishes later.

    A parked record (it waits for a contact later in the input) is not the ledger's
    while it waits: it holds no key and leaves no entry here, so however many wait,
    the ledger's memory follows the records in flight. It still holds the watermark:
    `parked` (the parking lot) answers which is the oldest of them.
    """

    def __init__(self, parked: Parked | None = None) -> None:
        self._parked = parked if parked is not None else _NoneParked()
        self._next_seq = 0
        self._open: dict[int, _Open] = {}
        # The newest unfinished record per key: a new record only needs to wait for it,
        # because that one already waits for every earlier record with the key.
        self._newest_by_key: dict[str, int] = {}
        # Per key, the unfinished records holding it shared since its newest outright holder.
        self._sharing: dict[str, set[int]] = {}
        # Every unfinished record not parked, smallest first (finished and parked ones are
        # dropped lazily, and the heap rebuilt when they pile up): the watermark is its
        # head or the oldest parked one. Memory follows the records in flight, not the
        # records that finished behind a slow one, nor the ones parked.
        self._unfinished: list[int] = []
        self._barrier: int | None = None
        self._stopped = False
        # (first record not covered, STATE), oldest first. Two neighbours always have an
        # unfinished record between them; records added after the newest one that are
        # still unfinished are counted, to know when a new STATE can replace it.
        self._pending: deque[tuple[int, State]] = deque()
        self._unfinished_after_newest = 0
        self._last_released: State | None = None

    def add(self, keys: Iterable[str]) -> tuple[int, bool]:
        """Numbers a new record; True when it may start now, else `finish` says when."""
        seq = self._next_seq
        self._next_seq += 1
        if self._pending:
            self._unfinished_after_newest += 1
        return seq, self._enter(seq, keys)

    def resume(self, seq: int, keys: Iterable[str]) -> bool:
        """A parked record comes back to be tried again, holding `keys` from now on:
        True when it may start now, else `finish` says when.

        It queues behind the records in flight that hold its keys, whatever their
        place in the input (they entered before it), and every record added from now on
        queues behind it. It is still unfinished, as it was while parked.
        """
        if seq in self._open or seq >= self._next_seq:
            raise ValueError(f"record {seq} is not parked, so it cannot be resumed")
        return self._enter(seq, keys)

    def _enter(self, seq: int, keys: Iterable[str]) -> bool:
        """Files an unfinished record under its keys: True when it waits for none."""
        unique = tuple(dict.fromkeys(keys))
        # A set: two keys leading to the same earlier record make one wait, not two.
        predecessors: set[int] = set()
        for key in unique:
            name, shared = unshared(key)
            if name in self._newest_by_key:
                predecessors.add(self._newest_by_key[name])
            if shared:
                self._sharing.setdefault(name, set()).add(seq)
            else:
                predecessors.update(self._sharing.pop(name, ()))
                self._newest_by_key[name] = seq
        for predecessor in predecessors:
            self._open[predecessor].dependents.append(seq)
        self._open[seq] = _Open(unique, len(predecessors))
        heapq.heappush(self._unfinished, seq)
        return not predecessors

    def finish(self, seq: int, *, delivered: bool) -> tuple[list[int], list[State]]:
        """Ends a started record: the records it let start, and the STATEs to write.

        `delivered` is False for a record that failed or was abandoned; that makes it
        a barrier. Finishing a record that was never allowed to start is a bug in the
        caller, and would break the ordering promise, so it raises ValueError.
        """
        record = self._open.get(seq)
        if record is None or record.waiting_for:
            raise ValueError(f"record {seq} is not running, so it cannot finish")
        runnable = self._close(seq, record)
        if not delivered and (self._barrier is None or seq < self._barrier):
            self._barrier = seq
        if self._pending and seq >= self._pending[-1][0]:
            self._unfinished_after_newest -= 1
        return runnable, self._release()

    def park(self, seq: int) -> list[int]:
        """Sets a started record aside, unfinished: the records it let start.

        A parked record waits for something that may come later in the input (its
        contact). Records after it that share its keys must not wait for it, or the
        input could never be read as far as what it waits for; but it still holds the
        watermark (through `parked`), so no STATE covering it goes out until it is
        finished. From here until `resume`, the ledger keeps nothing of it.
        """
        record = self._open.get(seq)
        if record is None or record.waiting_for:
            raise ValueError(f"record {seq} is not running, so it cannot be parked")
        return self._close(seq, record)

    def keys_after(self, seq: int) -> list[tuple[str, ...]]:
        """The keys of the unfinished records after `seq` in the input, oldest first:
        the later records a record parked now has let go ahead of it."""
        return [self._open[later].keys for later in sorted(s for s in self._open if s > seq)]

    def _close(self, seq: int, record: _Open) -> list[int]:
        """Takes a record out of the ledger: the records that now wait for nothing."""
        del self._open[seq]
        if len(self._unfinished) > 2 * len(self._open) + _HEAP_SLACK:
            # Finished records leave the heap only from its head: behind a slow record
            # it would keep every record that finished since. A sorted list is a heap.
            self._unfinished = sorted(self._open)
        return self._release_keys(seq, record)

    def state(self, value: State) -> list[State]:
        """A STATE covering every record added so far: the STATEs to write now."""
        position = self._next_seq
        if self._barrier is not None and position > self._barrier:
            # It covers a record that was not delivered: it can never go out.
            return []
        if self._pending and not self._unfinished_after_newest:
            # Every record between the newest pending STATE and this one is finished, so
            # the two would always be released together: only the newer can matter. This
            # keeps memory flat when a tap sends a STATE after every record behind a
            # slow one.
            self._pending[-1] = (position, value)
        else:
            self._pending.append((position, value))
            self._unfinished_after_newest = 0
        return self._release()

    def _release_keys(self, seq: int, record: _Open) -> list[int]:
        """Lets the records waiting for this one go: those that now wait for nothing."""
        for key in record.keys:
            name, shared = unshared(key)
            if shared:
                holders = self._sharing.get(name)
                if holders is not None:
                    holders.discard(seq)
                    if not holders:
                        del self._sharing[name]
            elif self._newest_by_key.get(name) == seq:
                del self._newest_by_key[name]
        runnable: list[int] = []
        for dependent in record.dependents:
            waiting = self._open[dependent]
            waiting.waiting_for -= 1
            if not waiting.waiting_for:
                runnable.append(dependent)
        return runnable

    def stop(self) -> None:
        """From now on, no record starts: the ones not yet started are abandoned."""
        self._stopped = True

    def abandons(self, seq: int) -> bool:
        """Whether a record about to start must be finished undelivered instead.

        After a stop, or after an earlier record failed, the record's work would be
        wasted: no STATE could cover it anyway. Abandoning it lets the run end soon.
        """
        return self._stopped or (self._barrier is not None and seq > self._barrier)

    def _watermark(self) -> int:
        """The oldest unfinished record, parked or not, or the next one when none is."""
        while self._unfinished and self._unfinished[0] not in self._open:
            heapq.heappop(self._unfinished)
        oldest = self._unfinished[0] if self._unfinished else self._next_seq
        parked = self._parked.oldest()
        return oldest if parked is None else min(oldest, parked)

    @property
    def pending_states(self) -> int:
        """STATEs held back, waiting for records before them: at most one more than the
        records in flight."""
        return len(self._pending)

    def _release(self) -> list[State]:
        """The newest pending STATE whose records are all delivered, unless already written.

        Older releasable STATEs are dropped: the newest one tells the tap everything
        they would have, and the tap resumes from the last STATE written anyway.
        """
        limit = (
            self._watermark() if self._barrier is None else min(self._watermark(), self._barrier)
        )
        newest: State | None = None
        while self._pending and self._pending[0][0] <= limit:
            newest = self._pending.popleft()[1]
        if newest is None or newest == self._last_released:
            return []
        self._last_released = newest
        return [newest]
