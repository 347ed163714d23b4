"""Delivering records concurrently while keeping STATE a watermark.

The SDK hands records over one at a time on the main thread. `Delivery` runs their
work on a pool of worker threads and writes a tap's STATE once every record before it
is delivered (or dead-lettered). Which record may start and which STATE may go out is
decided by the `Ledger` (`core.py`); this module only adds the threads around it.

Every decision is taken under one lock, in the same critical section as the ledger
call that led to it, so a record is queued exactly once. STATE lines are written
outside that lock: a slow reader of stdout then holds up at most the one thread that
writes, never the workers or the main thread. At most `window` records are
outstanding at once, so memory stays flat however long the input.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from target_intercom.deadletter import DeadLetterFile
from target_intercom.delivery.core import Ledger, State
from target_intercom.delivery.failures import Failure, RecordErrors, internal_error
from target_intercom.delivery.parking import Job, ParkingLot
from target_intercom.errors import ContactNotYet, FatalError, RecordError
from target_intercom.metrics import Metrics

logger = logging.getLogger("target-intercom")

# Outstanding records per worker: enough independent records to keep every worker busy
# when the input holds chains (a user, then its company, then its events).
_WINDOW_PER_WORKER = 8
# What a record's run ended in: (the run's failure, else None; the (code, message) it was
# dead-lettered with, else None).
_Ended = tuple[str | None, tuple[str, str] | None]


class Delivery:
    """The worker pool of one run, around its ledger."""

    def __init__(
        self,
        *,
        max_concurrency: int,
        dead_letter: DeadLetterFile | None,
        write_state: Callable[[State], None],
        metrics: Metrics,
        emit_state: bool = True,
        max_rejected_in_a_row: int = 0,
    ) -> None:
        self._ledger = Ledger()
        self._errors = RecordErrors(dead_letter, metrics)
        self._write_state = write_state
        self._emit_state = emit_state
        self._metrics = metrics
        self._window = _WINDOW_PER_WORKER * max_concurrency
        self._lock = threading.Lock()
        # Three conditions on the one lock, so each wakes only the threads it concerns.
        self._work_ready = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._ready: deque[int] = deque()
        self._jobs: dict[int, Job] = {}
        # Records waiting for a contact that may come later in the input; once the input
        # has ended, a record that still cannot find its contact is a record error.
        self._parking = ParkingLot()
        self._input_ended = False
        self._outstanding = 0
        self._failure: Failure | None = None
        self._closing = False
        # The newest released STATE not yet written, and the lock of whoever writes it.
        self._unwritten: State | None = None
        self._output = threading.Lock()
        # The systemic-failure rule: records dead-lettered in a row (in the order they
        # end), and the STATE held back while such a run of rejections is open, since it
        # may yet turn out to be one cause rejecting everything.
        self._max_rejected_in_a_row = max_rejected_in_a_row
        self._rejected_in_a_row = 0
        self._last_rejection = ""
        self._rejection_codes: set[str] = set()
        self._delivered_any = False
        self._held: State | None = None
        self.delivered = 0
        self._workers = [
            threading.Thread(target=self._work, name=f"intercom-worker-{i}", daemon=True)
            for i in range(max_concurrency)
        ]
        for worker in self._workers:
            worker.start()

    @property
    def failure(self) -> Failure | None:
        return self._failure

    def submit(
        self,
        stream: str,
        record_key: str,
        record: dict[str, Any],
        keys: Iterable[str],
        work: Callable[[], str],
        settle: Callable[[], str | None] | None = None,
    ) -> None:
        """Takes one record's work; blocks while the window is full; raises once the run failed.

        `settle` answers, without a call, whether the record needs any work: when it may
        start at once (it holds its keys, so no record about the same contact or company
        is in flight), it is asked here, on the reading thread, and a record it settles
        ("unchanged") never goes to a worker. A re-sync of unchanged rows then costs no
        thread hand-off per row."""
        keys = tuple(keys)
        job = Job(stream, record_key, record, keys, work)
        with self._lock:
            seq, runnable = self._admit(keys)
            if settle is None or not runnable or self._ledger.abandons(seq):
                self._jobs[seq] = job
                if runnable:
                    self._queue(seq)
                return
        try:
            outcome = settle()
        except Exception:
            # The worker meets the same problem in `work`, and reports it as it should.
            outcome = None
        if outcome is None:
            with self._lock:
                self._jobs[seq] = job
                self._queue(seq)
            return
        self._metrics.count_outcome(stream, outcome)
        self._end(seq, delivered=True, wakes=keys)

    def record_failed(
        self, stream: str, record_key: str, record: dict[str, Any], error: RecordError
    ) -> None:
        """A record that failed before it could be queued (mapping, identity, schema)."""
        with self._lock:
            seq, _ = self._admit(())
        failure = self._errors.settle(stream, record_key, record, error)
        rejection = None if failure else (error.code, error.message)
        self._end(seq, delivered=failure is None, failure=failure, rejection=rejection)
        self._raise_if_failed()

    def state(self, value: State) -> None:
        """A STATE from the tap: written once every record before it is delivered."""
        with self._lock:
            self._hand_out(self._ledger.state(value))
        self._drain()

    def finish(self) -> None:
        """End of input: waits for every outstanding record; the STATE they free is written.

        A run that delivered nothing and rejected every record it read, two or more, all
        for one cause (one error code), fails here: that is not a green run."""
        with self._lock:
            # Every record not parked ends first: the contacts parked records wait for
            # may be among them.
            while self._outstanding:
                self._idle.wait()
            self._input_ended = True
            while self._outstanding or len(self._parking):
                # The last try of the records still waiting for a contact, a window at a time.
                room = self._window - self._outstanding
                if room > 0 and len(self._parking):
                    for seq, job in self._parking.take_some(room):
                        self._requeue(seq, job)
                else:
                    self._room.wait()
            self._parking.close()
            if (
                self._max_rejected_in_a_row
                and self._rejected_in_a_row >= 2
                and not self._delivered_any
                and len(self._rejection_codes) == 1
            ):
                self._fail_systemic()
            elif self._held is not None and self._emit_state:
                self._unwritten, self._held = self._held, None
        self._drain()
        self._close()

    def abort(self) -> None:
        """Stops taking work and lets in-flight calls end. Records not yet started are
        abandoned, so the watermark, and the STATE written, stay true."""
        with self._lock:
            self._ledger.stop()
        self.finish()

    def _admit(self, keys: Iterable[str]) -> tuple[int, bool]:
        """Numbers a new record once the window has room for it (lock held)."""
        while True:
            self._raise_if_failed()
            if self._outstanding < self._window:
                break
            self._room.wait()
        self._outstanding += 1
        return self._ledger.add(keys)

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise FatalError(self._failure.message)

    def _queue(self, seq: int) -> None:
        """Hands a record that may start to the workers (lock held)."""
        self._ready.append(seq)
        self._work_ready.notify()

    def _work(self) -> None:
        while (taken := self._take()) is not None:
            seq, job = taken
            if job is None:
                self._end(seq, delivered=False)
                continue
            ended = self._run(seq, job)
            if ended is None:
                continue  # parked: it ends later
            failure, rejection = ended
            self._end(
                seq,
                delivered=failure is None,
                failure=failure,
                rejection=rejection,
                wakes=job.keys if failure is None and rejection is None else (),
            )

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
        """Runs one record's work: how it ended, or None when it was parked."""
        try:
            outcome = job.work()
        except ContactNotYet as exc:
            if self._park(seq, job, exc.contact_keys):
                return None
            failure = self._errors.settle(job.stream, job.record_key, job.record, exc)
            return failure, None if failure else (exc.code, exc.message)
        except RecordError as exc:
            failure = self._errors.settle(job.stream, job.record_key, job.record, exc)
            return failure, None if failure else (exc.code, exc.message)
        except FatalError as exc:
            return str(exc), None
        except Exception as exc:
            logger.debug("Unexpected error on %s", job.record_key, exc_info=True)
            return internal_error(job.stream, job.record_key, exc), None
        self._metrics.count_outcome(job.stream, outcome)
        return None, None

    def _park(self, seq: int, job: Job, waits_for: tuple[str, ...]) -> bool:
        """Sets aside a record whose contact may still come later in the input: it leaves
        the window (so the input goes on being read) but keeps its place under the
        watermark. False once the input has ended: then it is a record error."""
        with self._lock:
            if self._input_ended or not waits_for or self._ledger.abandons(seq):
                return False
            for dependent in self._ledger.park(seq):
                self._queue(dependent)
            self._parking.put(seq, job, waits_for)
            self._outstanding -= 1
            self._room.notify_all()
            if not self._outstanding:
                self._idle.notify_all()
            return True

    def _requeue(self, seq: int, job: Job) -> None:
        """A parked record goes back to the workers (lock held)."""
        self._jobs[seq] = job
        self._outstanding += 1
        self._queue(seq)

    def _end(
        self,
        seq: int,
        *,
        delivered: bool,
        failure: str | None = None,
        rejection: tuple[str, str] | None = None,
        wakes: tuple[str, ...] = (),
    ) -> None:
        """Finishes a record, then writes any STATE that this freed, outside the lock.
        `rejection`: the record was dead-lettered, with this (code, message)."""
        with self._lock:
            if failure is not None and (self._failure is None or seq < self._failure.seq):
                self._failure = Failure(seq, failure)
                # A submit waiting for room must raise now rather than wait.
                self._room.notify_all()
            if rejection is not None:
                self._rejected_in_a_row += 1
                self._rejection_codes.add(rejection[0])
                self._last_rejection = f"{rejection[1]} ({rejection[0]})"
                if 0 < self._max_rejected_in_a_row <= self._rejected_in_a_row:
                    self._fail_systemic()
            elif delivered:
                self._rejected_in_a_row = 0
                self._rejection_codes.clear()
                self._delivered_any = True
                if self._held is not None and self._unwritten is None:
                    self._unwritten, self._held = self._held, None
            if delivered:
                self.delivered += 1
            # A delivered record may be the contact that parked records wait for.
            for parked_seq, parked in self._parking.take(wakes) if wakes else ():
                self._requeue(parked_seq, parked)
            runnable, states = self._ledger.finish(seq, delivered=delivered)
            for dependent in runnable:
                self._queue(dependent)
            self._hand_out(states)
            self._outstanding -= 1
            self._room.notify()
            if not self._outstanding:
                self._idle.notify_all()
        self._drain()

    def _hand_out(self, states: list[State]) -> None:
        """Puts released STATEs in the outbox (lock held).

        The outbox holds one STATE: a newer one replaces one not yet written, since it
        tells the tap everything the older would have. So a stuck reader of stdout
        cannot make memory grow.
        """
        if not states or not self._emit_state:
            return
        if self._rejected_in_a_row:
            self._held = states[-1]
        else:
            self._unwritten = states[-1]

    def _drain(self) -> None:
        """Writes the outbox, in order, by one thread at a time.

        A thread that finds another one writing leaves the outbox to it instead of
        queueing behind a slow stdout. The writer looks at the outbox again after
        letting go of the output lock, so a STATE put there meanwhile is never left
        behind.
        """
        while self._output.acquire(blocking=False):
            try:
                while (value := self._take_unwritten()) is not None:
                    self._write_state(value)
            except (OSError, ValueError) as exc:
                # Whoever reads stdout is gone (or it was closed): no STATE can reach
                # Meltano any more, so the run stops instead of loading what it could
                # never acknowledge.
                self.fail(f"cannot write STATE to stdout: {exc}")
                return
            finally:
                self._output.release()
            with self._lock:
                if self._unwritten is None:
                    return

    def _fail_systemic(self) -> None:
        """Every record of a run of rejections failed, maybe for one cause: the run stops,
        and no STATE covering them is ever written (lock held)."""
        if self._failure is None:
            self._failure = Failure(
                -1,
                f"the last {self._rejected_in_a_row} records in a row were all rejected (the "
                f"last: {self._last_rejection}); one cause rejecting every record is not bad "
                "rows, so the run stops without a STATE past them: fix the cause and run "
                "again (max_rejected_in_a_row sets how many in a row stop a run)",
            )
        self._emit_state = False
        self._held = None
        self._ledger.stop()
        self._room.notify_all()

    def fail(self, message: str) -> None:
        """The run cannot go on (its output is gone): no record starts any more, and the
        run ends with this message."""
        with self._lock:
            if self._failure is None:
                self._failure = Failure(-1, message)
            self._ledger.stop()
            self._room.notify_all()

    def _take_unwritten(self) -> State | None:
        with self._lock:
            value, self._unwritten = self._unwritten, None
            return value

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
        for worker in self._workers:
            worker.join()
