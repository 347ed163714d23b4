"""Delivering records concurrently while keeping STATE a watermark.

The SDK hands records over one at a time on the main thread. `Delivery` numbers each
one and passes a STATE message through only once every record before it is delivered
(or dead-lettered). Records that touch the same contact or company name the same
ordering keys: a record is handed to the worker pool only once every earlier record
sharing a key with it has finished, so an update never overtakes its create and an
event never overtakes its contact's upsert, while workers never sit idle waiting for
one another. At most `window` records are outstanding at once, so memory stays flat
however long the input.

Deadlock-freedom: a record only ever waits for records submitted before it, and the
oldest unfinished record waits for nothing, so the pool always has work it can do.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from target_intercom.deadletter import DeadLetterFile
from target_intercom.errors import FatalError, RecordError
from target_intercom.metrics import Metrics

logger = logging.getLogger("target-intercom")

# How long a blocked submit waits before looking again whether the run has failed.
_POLL_SECONDS = 0.2
# Outstanding records per worker: enough independent records to keep every worker busy
# when the input holds chains (a user, then its company, then its events).
_WINDOW_PER_WORKER = 8


@dataclass(eq=False)
class Job:
    seq: int
    stream: str
    record_key: str
    record: dict[str, Any] | None
    work: Callable[[], str] | None
    keys: tuple[str, ...] = ()
    waiting_for: int = 0  # earlier jobs sharing a key that have not finished yet
    dependents: list[Job] = field(default_factory=list)
    finished: bool = False


@dataclass(frozen=True)
class Failure:
    seq: int
    message: str


class Delivery:
    """The worker pool, the ordering keys, and the STATE watermark of one run."""

    def __init__(
        self,
        *,
        max_concurrency: int,
        on_record_error: str,
        dead_letter: DeadLetterFile | None,
        write_state: Callable[[dict], None],
        metrics: Metrics,
        emit_state: bool = True,
    ) -> None:
        self._on_record_error = on_record_error
        self._dead_letter = dead_letter
        self._write_state = write_state
        self._emit_state = emit_state
        self._metrics = metrics
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._slots = threading.BoundedSemaphore(_WINDOW_PER_WORKER * max_concurrency)
        self._ready: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._outstanding = 0
        self._next_seq = 0
        self._watermark = 0  # every job numbered below it is finished
        self._finished_early: set[int] = set()
        self._pending_states: deque[tuple[int, dict]] = deque()
        self._last_written: dict | None = None
        self._last_key_job: dict[str, Job] = {}
        self._failure: Failure | None = None
        # The first record that was not delivered (failed, or abandoned by a stop):
        # no STATE after it may ever be written.
        self._barrier: int | None = None
        self._stopping = False
        self._stopped = False
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
    ) -> None:
        """Takes one record's work; blocks while the window is full; raises once the run failed."""
        job = self._new_job(stream, record_key, record, work, tuple(keys))
        if job.waiting_for == 0:
            self._ready.put(job)

    def record_failed(self, stream: str, record_key: str, record: dict, error: RecordError) -> None:
        """A record that failed before it could be queued (mapping, identity, schema)."""
        job = self._new_job(stream, record_key, record, None, ())
        self._settle(job, error)
        self._raise_if_failed()

    def state(self, value: dict) -> None:
        """A STATE from the tap: written once every record before it is delivered."""
        with self._lock:
            self._pending_states.append((self._next_seq, value))
            self._flush_states()

    def finish(self) -> None:
        """End of input: waits for every outstanding record; the STATE they free is written."""
        with self._idle:
            while self._outstanding:
                self._idle.wait(_POLL_SECONDS)
        self._stop_workers()

    def abort(self) -> None:
        """Stops taking work and lets in-flight calls end. Records still waiting are
        abandoned unfinished, so the watermark, and the STATE written, stay true."""
        with self._lock:
            self._stopping = True
        self._stop_workers()

    def _new_job(
        self,
        stream: str,
        record_key: str,
        record: dict[str, Any],
        work: Callable[[], str] | None,
        keys: tuple[str, ...],
    ) -> Job:
        self._raise_if_failed()
        while not self._slots.acquire(timeout=_POLL_SECONDS):
            self._raise_if_failed()
        with self._lock:
            job = Job(self._next_seq, stream, record_key, record, work, keys)
            self._next_seq += 1
            self._outstanding += 1
            for key in keys:
                earlier = self._last_key_job.get(key)
                if earlier is not None and not earlier.finished and job not in earlier.dependents:
                    earlier.dependents.append(job)
                    job.waiting_for += 1
                self._last_key_job[key] = job
        return job

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise FatalError(self._failure.message)

    def _stop_workers(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        for _ in self._workers:
            self._ready.put(None)
        for worker in self._workers:
            worker.join()

    def _skippable(self, job: Job) -> bool:
        """After a failure or a stop, later records are abandoned: STATE cannot pass them anyway."""
        failure = self._failure
        return self._stopping or (failure is not None and job.seq > failure.seq)

    def _work(self) -> None:
        while True:
            job = self._ready.get()
            if job is None:
                return
            if self._skippable(job):
                self._finish(job, delivered=False)
                continue
            try:
                assert job.work is not None
                outcome = job.work()
            except RecordError as exc:
                self._settle(job, exc)
            except FatalError as exc:
                self._fail(job, str(exc))
            except Exception as exc:
                logger.debug("Unexpected error on %s", job.record_key, exc_info=True)
                self._fail(
                    job,
                    f"internal error on stream '{job.stream}' record {job.record_key}: "
                    f"{type(exc).__name__}: {exc}",
                )
            else:
                self._metrics.count_outcome(job.stream, outcome)
                self._finish(job, delivered=True)

    def _settle(self, job: Job, error: RecordError) -> None:
        """A permanent record error: dead-lettered under `skip`, fatal under `fail`."""
        message = f"stream '{job.stream}' record {job.record_key}: {error.message}"
        if self._on_record_error == "skip" and self._dead_letter is not None:
            self._dead_letter.write(job.stream, job.record or {}, error.code, error.message)
            self._metrics.count_outcome(job.stream, "skipped")
            logger.warning("Skipped %s (%s); written to the dead-letter file", message, error.code)
            self._finish(job, delivered=True)
        else:
            self._fail(job, f"{message} ({error.code})")

    def _fail(self, job: Job, message: str) -> None:
        with self._lock:
            if self._failure is None or job.seq < self._failure.seq:
                self._failure = Failure(job.seq, message)
        self._finish(job, delivered=False)

    def _finish(self, job: Job, *, delivered: bool) -> None:
        with self._lock:
            job.finished = True
            if delivered:
                self.delivered += 1
            elif self._barrier is None or job.seq < self._barrier:
                self._barrier = job.seq
            for key in job.keys:
                if self._last_key_job.get(key) is job:
                    del self._last_key_job[key]
            released = [d for d in job.dependents if _release(d)]
            job.record = job.work = None
            job.dependents = []
            if job.seq == self._watermark:
                self._watermark += 1
                while self._watermark in self._finished_early:
                    self._finished_early.remove(self._watermark)
                    self._watermark += 1
            else:
                self._finished_early.add(job.seq)
            self._flush_states()
            self._outstanding -= 1
            if not self._outstanding:
                self._idle.notify_all()
        for dependent in released:
            self._ready.put(dependent)
        self._slots.release()

    def _flush_states(self) -> None:
        """Writes the newest STATE whose records are all delivered (lock held)."""
        limit = self._watermark if self._barrier is None else min(self._watermark, self._barrier)
        newest = None
        while self._pending_states and self._pending_states[0][0] <= limit:
            newest = self._pending_states.popleft()[1]
        if newest is None or newest == self._last_written or not self._emit_state:
            return
        self._write_state(newest)
        self._last_written = newest


def _release(job: Job) -> bool:
    """One of the job's predecessors finished; True when it was the last one (lock held)."""
    job.waiting_for -= 1
    return job.waiting_for == 0


class Progress:
    """Logs a progress line every few seconds while a load runs."""

    def __init__(self, delivery: Delivery, every: float = 10.0) -> None:
        self._delivery = delivery
        self._every = every
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            done = self._delivery.delivered
            elapsed = time.monotonic() - self._started
            logger.info(
                "Progress: %d records delivered in %.0fs (%.1f records/s)",
                done,
                elapsed,
                done / elapsed if elapsed else 0.0,
            )

    def stop(self) -> None:
        self._stop.set()
