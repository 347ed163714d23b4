"""The threads of delivery: workers that write records, and the one that writes STATE.

The SDK hands records over one at a time on the main thread. `Delivery` runs their
writing on a pool of worker threads and writes a tap's STATE once every record before it
is delivered (or dead-lettered). Every decision is someone else's: which record may
start and which STATE may go out is the `Ledger`'s (`core.py`); whether a released STATE
is written, held or never written, and why the run failed, is the `Policy`'s
(`policy.py`). This module only runs threads and hands out work and STATE.

Every decision is taken under one lock, in the same critical section as the call that
led to it, so a record is queued exactly once. STATE lines are written outside that
lock, by the outbox (`outbox.py`). At most `window` records are outstanding at once, so
memory stays flat however long the input. (A little over 400 lines: each lock-held step
says in its docstring why it is safe where it stands, and those belong beside the code.)
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from target_intercom import keys
from target_intercom.deadletter import DeadLetterFile
from target_intercom.delivery.core import Ledger, State, unshared
from target_intercom.delivery.failures import RecordErrors, internal_error
from target_intercom.delivery.job import Job, Plan, Rest, Writers
from target_intercom.delivery.outbox import Outbox
from target_intercom.delivery.parking import ParkingLot
from target_intercom.delivery.policy import RUN, Failure, Policy
from target_intercom.errors import AnonymousCall, ContactNotYet, Deferred, FatalError, RecordError
from target_intercom.metrics import ANONYMOUS, Metrics
from target_intercom.stop_request import StopRequest

logger = logging.getLogger("target-intercom")

# How often the reading thread, waiting for room in the window or for the last records,
# looks whether a stop was asked for: a signal cannot safely wake it.
_STOP_CHECK_SECONDS = 0.05
# Outstanding records per worker: enough independent records to keep every worker busy
# when the input holds chains (a user, then its company, then its events).
_WINDOW_PER_WORKER = 8
# Records that may start at once are settled this many at a time (fewer in a small window):
# the writers read what they need of a batch (the sync store's rows) in one go.
_SETTLE_BATCH = 64
# A batch no record joined for this long is settled by a thread of its own.
_SETTLE_PAUSE_SECONDS = 0.02
# Deferred rests (errors.Deferred) wait to be written together until this many wait (then
# at once: memory stays bounded, as many as the parking lot keeps in memory), until a tap
# STATE finds the oldest waiting this long (a STATE then goes out at most that late), or
# until the end of input.
_DEFERRED_AT_MOST = 10_000
_DEFERRED_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class _Ended:
    """How a record's run ended: delivered, dead-lettered (`rejection`), dropped as an
    anonymous call (`anonymous`), or failing the run (`failure`); none of those and not
    delivered: abandoned."""

    delivered: bool
    failure: str | None = None
    rejection: tuple[str, str] | None = None
    anonymous: bool = False


_DELIVERED = _Ended(delivered=True)
_ABANDONED = _Ended(delivered=False)
_ANONYMOUS = _Ended(delivered=True, anonymous=True)


class Delivery:
    """The worker pool of one run, around its ledger and its policy."""

    def __init__(
        self,
        *,
        writers: Writers,
        stop: StopRequest,
        max_concurrency: int,
        dead_letter: DeadLetterFile | None,
        write_state: Callable[[State], None],
        metrics: Metrics,
        emit_state: bool = True,
        max_rejected_in_a_row: int = 0,
        loaded_before: Callable[[], bool] = lambda: False,
    ) -> None:
        self._writers = writers
        self._stop = stop
        # Records waiting for a contact that may come later in the input: the ledger asks
        # the lot for the oldest of them, which holds the watermark.
        self._parking = ParkingLot()
        self._ledger = Ledger(self._parking)
        self._policy = Policy(
            emit_state=emit_state,
            max_rejected_in_a_row=max_rejected_in_a_row,
            loaded_before=loaded_before,
        )
        self._errors = RecordErrors(dead_letter, metrics)
        self._metrics = metrics
        self._window = _WINDOW_PER_WORKER * max_concurrency
        self._lock = threading.Lock()
        # Three conditions on the one lock, so each wakes only the threads it concerns.
        self._work_ready = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._ready: deque[int] = deque()
        # Records that may start, waiting on the reading thread to be settled together.
        self._unsettled: list[tuple[int, Job]] = []
        self._unsettled_at = 0.0  # when a record last joined the batch
        self._settle_batch = max(1, min(_SETTLE_BATCH, self._window // 2))
        self._settler_stop = threading.Event()
        self._settler = threading.Thread(
            target=self._settle_paused, name="intercom-settler", daemon=True
        )
        self._settler.start()
        self._jobs: dict[int, Job] = {}
        # How many deferred rests are parked, and since when the oldest of them.
        self._deferred = 0
        self._deferred_since = 0.0
        self._outstanding = 0
        self._closing = False
        self._outbox = Outbox(write_state, self.fail)
        self.delivered = 0
        self._workers = [
            threading.Thread(target=self._work, name=f"intercom-worker-{i}", daemon=True)
            for i in range(max_concurrency)
        ]
        for worker in self._workers:
            worker.start()

    @property
    def failure(self) -> Failure | None:
        """Why the run failed, if it did: what the CLI reports as its one line."""
        return self._policy.failure

    def submit(self, stream: str, record_key: str, record: dict[str, Any], plan: Plan) -> None:
        """Takes one record's plan; blocks while the window is full; raises once the run failed.

        When the record may start at once (it holds its keys, so no record about the
        same contact or company is in flight), the writers are asked on the reading
        thread whether it needs any call, a batch of such records at a time (`_settle`): a
        record they settle ("unchanged") never goes to a worker, so a re-sync of unchanged
        rows costs no thread hand-off per row, and one read of the sync store per batch."""
        keys = plan.ordering_keys
        job = Job(stream, record_key, record, plan, keys)
        with self._lock:
            seq, runnable = self._admit(keys)
            if self._parking.watched:
                for parked_seq, parked in self._parking.watching(_names(keys)):
                    self._overtaken(parked_seq, parked, keys)
            if not runnable or self._ledger.abandons(seq):
                self._jobs[seq] = job
                if runnable:
                    self._queue(seq)
                return
            self._unsettled.append((seq, job))
            self._unsettled_at = time.monotonic()
            full = len(self._unsettled) >= self._settle_batch
        if full:
            self._settle()

    def _settle(self) -> None:
        """Settles the batch (lock not held): the writers read what it needs at once, then
        each record ends here when it needs no call, else goes to the workers. A STATE, a
        full window, the end of the input and a pause of the input (`_settle_paused`)
        settle it too, so no record waits in it for long. The records of two batches
        hold different keys, so two threads may settle two batches side by side."""
        with self._lock:
            batch, self._unsettled = self._unsettled, []
        if not batch:
            return
        # A read that fails is met again by each record's own `settled`, or its `write`.
        with contextlib.suppress(Exception):
            self._writers.prefetch([job.plan for _, job in batch])
        for seq, job in batch:
            try:
                outcome = self._writers.settled(job.plan)
            except Exception:
                # The worker meets the same problem in `write`, and reports it as it should.
                outcome = None
            if outcome is None:
                with self._lock:
                    self._jobs[seq] = job
                    self._queue(seq)
                continue
            self._metrics.count_outcome(job.stream, outcome)
            self._end(seq, _DELIVERED, wakes=job.keys)

    def _settle_paused(self) -> None:
        """The settler thread: a batch that no record joined for `_SETTLE_PAUSE_SECONDS`
        (a tap that sends a few records, then waits) is settled here, not left waiting
        for the next record, STATE or end of input."""
        while not self._settler_stop.wait(_SETTLE_PAUSE_SECONDS):
            with self._lock:
                paused = time.monotonic() - self._unsettled_at >= _SETTLE_PAUSE_SECONDS
                due = bool(self._unsettled) and paused
            if due:
                self._settle()

    def record_failed(
        self, stream: str, record_key: str, record: dict[str, Any], error: RecordError
    ) -> None:
        """A record that failed before it could be queued (mapping, identity, schema); an
        anonymous call is no failure: it is counted, and ends as done."""
        with self._lock:
            seq, _ = self._admit(())
        if isinstance(error, AnonymousCall):
            self._metrics.count_outcome(stream, ANONYMOUS)
            self._end(seq, _ANONYMOUS)
        else:
            self._end(seq, self._settle_error(stream, record_key, record, error))
        self._raise_if_failed()

    def state(self, value: State) -> None:
        """A STATE from the tap: written once every record before it is delivered. Rests
        deferred to be written together (errors.Deferred) hold it back, until the oldest
        has waited `_DEFERRED_SECONDS`: then they go, and this STATE goes out after them."""
        self._settle()
        with self._lock:
            if self._deferred and time.monotonic() - self._deferred_since >= _DEFERRED_SECONDS:
                self._write_deferred()
            self._hand_out(self._ledger.state(value))
        self._outbox.drain()

    def finish(self, *, stoppable: bool = True, input_ended: bool = True) -> None:
        """End of input: waits for every outstanding record, gives the parked ones their
        last try, and writes the STATE they free (or fails the run, as the policy says).
        While it waits, a stop asked for raises `Interrupted` (unless not `stoppable`:
        the wait of a stop itself). When reading stopped before the input ended (a bad
        line, an unknown stream), what parked records wait for may still have been to
        come: they are left undelivered (unfinished, no STATE past them) rather than
        rejected as waiting for a contact that never came."""
        self._settle()
        with self._lock:
            # Every record not parked ends first: the contacts parked records wait for
            # may be among them.
            while self._outstanding:
                self._wait(self._idle, stoppable)
            if not input_ended:
                self._ledger.stop()
            self._policy.input_ended()
            while self._outstanding or len(self._parking):
                # The last try of the records still waiting for a contact, a window at a time.
                room = self._window - self._outstanding
                if room > 0 and len(self._parking):
                    for seq, job in self._parking.take_some(room):
                        self._requeue(seq, job)
                else:
                    self._wait(self._room, stoppable)
            self._parking.close()
            self._to_write(self._policy.ended())
            self._stop_if_failed()
        self._outbox.drain()
        self._close()

    def abort(self) -> None:
        """Stops taking work and lets in-flight calls end. Records not yet started are
        abandoned, so the watermark, and the STATE written, stay true: the batch not
        settled yet too (it is not read for, so a stop waits on no store)."""
        with self._lock:
            self._ledger.stop()
            for seq, job in self._unsettled:
                self._jobs[seq] = job
                self._queue(seq)
            self._unsettled = []
        self.finish(stoppable=False)

    def fail(self, message: str) -> None:
        """The run cannot go on (its output is gone): no record starts any more, and the
        run ends with this message."""
        with self._lock:
            self._policy.failed(RUN, message)
            self._stop_if_failed()

    def _admit(self, keys: tuple[str, ...]) -> tuple[int, bool]:
        """Numbers a new record once the window has room for it (lock held). A full window
        may hold the batch not settled yet, and records behind it that wait for it: the
        batch is settled first, with the lock let go, rather than waited for."""
        while True:
            self._raise_if_failed()
            if self._outstanding < self._window:
                break
            if self._unsettled:
                self._lock.release()
                try:
                    self._settle()
                finally:
                    self._lock.acquire()
                continue
            self._wait(self._room, stoppable=True)
        self._outstanding += 1
        return self._ledger.add(keys)

    def _wait(self, condition: threading.Condition, stoppable: bool) -> None:
        """Waits on a condition of the lock (held); a stop asked for meanwhile raises
        `Interrupted` here, where nothing is half done."""
        if not stoppable:
            condition.wait()
            return
        self._stop.check()
        condition.wait(_STOP_CHECK_SECONDS)
        self._stop.check()

    def _raise_if_failed(self) -> None:
        if self._policy.failure is not None:
            raise FatalError(self._policy.failure.message)

    def _queue(self, seq: int) -> None:
        """Hands a record that may start to the workers (lock held)."""
        self._ready.append(seq)
        self._work_ready.notify()

    def _work(self) -> None:
        while (taken := self._take()) is not None:
            seq, job = taken
            if job is None:
                self._end(seq, _ABANDONED)
                continue
            ended = self._run(seq, job)
            if ended is not None:  # None: parked, it ends later
                self._end(seq, ended, wakes=job.keys if ended is _DELIVERED else ())

    def _take(self) -> tuple[int, Job | None] | None:
        """The next record to run, without its job when it is to be abandoned; None once closed.

        Whether to run or abandon is decided here, under the lock, so that a stop or a
        failure is seen by every record that has not started yet.
        """
        with self._lock:
            while not self._ready:
                if self._closing:
                    return None
                self._work_ready.wait()
            seq = self._ready.popleft()
            job = self._jobs.pop(seq)
            return seq, None if self._ledger.abandons(seq) else job

    def _run(self, seq: int, job: Job) -> _Ended | None:
        """Writes one record: how it ended, or None when it was parked."""
        try:
            outcome = self._writers.write(job.plan)
        except ContactNotYet as exc:
            if self._park(seq, job, exc.contact_keys, exc.rest):
                return None
            if exc.rest is not None and not exc.undone_fails:
                # Its own part is written: only the rest is left undone.
                failure = self._errors.left_undone(job.stream, job.record_key, job.record, exc)
                return _DELIVERED if failure is None else _Ended(False, failure=failure)
            return self._settle_error(job.stream, job.record_key, job.record, exc)
        except Deferred as exc:
            if self._park(seq, job, exc.rest.waits_for, exc.rest):
                return None
            with self._lock:
                abandoned = self._ledger.abandons(seq)
            if abandoned:
                return _ABANDONED
            # It may not wait any more (the input ended): the rest is written now.
            return self._run(seq, Job(job.stream, job.record_key, job.record, exc.rest, job.keys))
        except RecordError as exc:
            return self._settle_error(job.stream, job.record_key, job.record, exc)
        except FatalError as exc:
            return _Ended(delivered=False, failure=str(exc))
        except Exception as exc:
            logger.debug("Unexpected error on %s", job.record_key, exc_info=True)
            return _Ended(delivered=False, failure=internal_error(job.stream, job.record_key, exc))
        self._metrics.count_outcome(job.stream, outcome)
        return _DELIVERED

    def _settle_error(
        self, stream: str, record_key: str, record: dict[str, Any], error: RecordError
    ) -> _Ended:
        """Dead-letters the record (it counts as delivered) or fails the run with it."""
        failure = self._errors.settle(stream, record_key, record, error)
        if failure is not None:
            return _Ended(delivered=False, failure=failure)
        return _Ended(delivered=True, rejection=(error.code, error.message))

    def _park(self, seq: int, job: Job, waits_for: tuple[str, ...], rest: Rest | None) -> bool:
        """Sets aside a record whose contact may still come later in the input, or the
        rest of it (`rest`) when it wrote what it could: it leaves the window (so the input
        goes on being read) but keeps its place under the watermark. The later records it
        lets go ahead of it may settle part of its rest. A deferred rest (errors.Deferred)
        waits with the others until they go together. False when it may not wait: then it
        is a record error, or, for a deferred rest, written at once."""
        with self._lock:
            if not self._policy.may_park or not waits_for or self._ledger.abandons(seq):
                return False
            later = self._ledger.keys_after(seq) if rest is not None and rest.watches else []
            for dependent in self._ledger.park(seq):
                self._queue(dependent)
            self._to_write(self._policy.passed(seq))
            watches: tuple[str, ...] = ()
            if rest is not None:
                for held in later:
                    rest = rest.after(held)
                job = Job(job.stream, job.record_key, job.record, rest, rest.ordering_keys)
                waits_for, watches = rest.waits_for, rest.watches
            if waits_for == (keys.DEFERRED,):
                self._parking.put(seq, job, waits_for)
                if not self._deferred:
                    self._deferred_since = time.monotonic()
                self._deferred += 1
                if self._deferred >= _DEFERRED_AT_MOST:
                    self._write_deferred()
            elif waits_for:
                self._parking.put(seq, job, waits_for, watches)
            else:
                self._requeue(seq, job)  # later records settled all it waited to write
            self._outstanding -= 1
            self._room.notify_all()
            if not self._outstanding:
                self._idle.notify_all()
            return True

    def _write_deferred(self) -> None:
        """The deferred rests go back to the workers, oldest first (lock held)."""
        for seq, job in self._parking.take((keys.DEFERRED,)):
            self._requeue(seq, job)
        self._deferred = 0

    def _requeue(self, seq: int, job: Job) -> None:
        """A parked record goes back to the workers (lock held), behind the records in
        flight that hold its keys; the records admitted from now on queue behind it."""
        self._jobs[seq] = job
        self._outstanding += 1
        if self._ledger.resume(seq, job.keys):
            self._queue(seq)

    def _overtaken(self, seq: int, parked: Job, later: tuple[str, ...]) -> None:
        """A record just admitted holds keys that a parked rest watches: what it states
        makes part of that rest moot (lock held). A rest left waiting for nothing runs."""
        rest = cast(Rest, parked.plan).after(later)
        if rest == parked.plan:
            return
        job = Job(parked.stream, parked.record_key, parked.record, rest, rest.ordering_keys)
        ready = self._parking.revise(seq, job, rest.waits_for)
        if ready is not None:
            self._requeue(seq, ready)

    def _end(self, seq: int, ended: _Ended, *, wakes: tuple[str, ...] = ()) -> None:
        """Finishes a record, then writes any STATE that this freed, outside the lock."""
        with self._lock:
            if ended.failure is not None:
                self._policy.failed(seq, ended.failure)
                self._to_write(self._policy.passed(seq))
            elif ended.rejection is not None:
                self._to_write(self._policy.rejected(seq, *ended.rejection))
            elif ended.anonymous:
                self._to_write(self._policy.anonymous(seq))
            elif ended.delivered:
                self._to_write(self._policy.delivered(seq))
            else:
                self._to_write(self._policy.passed(seq))
            if ended.delivered:
                self.delivered += 1
            # A delivered record may be the contact that parked records wait for.
            for parked_seq, parked in self._parking.take(wakes) if wakes and self._parking else ():
                self._requeue(parked_seq, parked)
            runnable, states = self._ledger.finish(seq, delivered=ended.delivered)
            for dependent in runnable:
                self._queue(dependent)
            self._hand_out(states)
            self._stop_if_failed()
            self._outstanding -= 1
            self._room.notify()
            if not self._outstanding:
                self._idle.notify_all()
        self._outbox.drain()

    def _stop_if_failed(self) -> None:
        """Once the run failed, no record starts, and a submit waiting for room raises
        instead of waiting (lock held). A record's failure stops only the records after
        it, through the ledger's barrier; a failure of the run stops them all."""
        failure = self._policy.failure
        if failure is None:
            return
        if failure.seq == RUN:
            self._ledger.stop()
        self._room.notify_all()

    def _hand_out(self, states: list[State]) -> None:
        """Gives the STATEs the ledger released to the policy (lock held)."""
        for state in states:
            self._to_write(self._policy.released(state))

    def _to_write(self, state: State | None) -> None:
        """Puts a STATE the policy says to write in the outbox (lock held)."""
        if state is not None:
            self._outbox.put(state)

    def _close(self) -> None:
        """Ends the workers once nothing is outstanding.

        Joining them also waits for the last STATE: a worker writing one goes on until
        the outbox is empty before it can end.
        """
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._work_ready.notify_all()
        self._settler_stop.set()
        self._settler.join()
        for worker in self._workers:
            worker.join()


def _names(keys: tuple[str, ...]) -> list[str]:
    """The keys' names, held shared or not: what parked rests watch."""
    return [unshared(key)[0] for key in keys]
