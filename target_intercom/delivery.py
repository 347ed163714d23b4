"""Delivering records concurrently while keeping STATE a watermark.

The SDK hands records over one at a time on the main thread. `Delivery` numbers each
one, queues it for a bounded pool of worker threads, and passes a STATE message
through only once every record before it is delivered (or dead-lettered). Records
that touch the same contact or company name the same ordering keys and wait for the
earlier ones, so an update never overtakes its create and an event never overtakes
its contact's upsert. The queue is bounded, so memory stays flat however long the input.

Deadlock-freedom: workers take jobs in input order and a job only ever waits for
jobs submitted before it, which are already running or done.
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


@dataclass(eq=False)
class Job:
    seq: int
    stream: str
    record_key: str
    record: dict[str, Any] | None
    work: Callable[[], str] | None
    deps: list[Job]
    keys: tuple[str, ...] = ()
    done: threading.Event = field(default_factory=threading.Event)


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
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max(4 * max_concurrency, 8))
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

    @property
    def last_state(self) -> dict | None:
        return self._last_written

    def submit(
        self,
        stream: str,
        record_key: str,
        record: dict[str, Any],
        keys: Iterable[str],
        work: Callable[[], str],
    ) -> None:
        """Queues one record's work; blocks while the pool is full; raises once the run failed."""
        self._raise_if_failed()
        with self._lock:
            job = Job(self._next_seq, stream, record_key, record, work, [], tuple(keys))
            self._next_seq += 1
            for key in job.keys:
                earlier = self._last_key_job.get(key)
                if earlier is not None and earlier not in job.deps:
                    job.deps.append(earlier)
                self._last_key_job[key] = job
        try:
            while True:
                try:
                    self._queue.put(job, timeout=_POLL_SECONDS)
                    return
                except queue.Full:
                    self._raise_if_failed()
        except BaseException:
            # Never queued (the run failed or was interrupted): nothing may wait for it.
            self._finish(job, delivered=False)
            raise

    def record_failed(self, stream: str, record_key: str, record: dict, error: RecordError) -> None:
        """A record that failed before it could be queued (mapping, identity, schema)."""
        self._raise_if_failed()
        with self._lock:
            job = Job(self._next_seq, stream, record_key, record, None, [])
            self._next_seq += 1
        self._settle(job, error)
        self._raise_if_failed()

    def state(self, value: dict) -> None:
        """A STATE from the tap: written once every record before it is delivered."""
        with self._lock:
            self._pending_states.append((self._next_seq, value))
            self._flush_states()

    def finish(self) -> None:
        """End of input: waits for every queued record; the STATE they free is written."""
        self._stop_workers(wait_for_queue=True)

    def abort(self) -> None:
        """Stops taking work, lets in-flight calls end, and keeps the STATE that is true."""
        with self._lock:
            self._stopping = True
        self._stop_workers(wait_for_queue=False)

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise FatalError(self._failure.message)

    def _stop_workers(self, *, wait_for_queue: bool) -> None:
        if not wait_for_queue:
            self._drain_queue()
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join()

    def _drain_queue(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                self._finish(job, delivered=False)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if not self._skippable(job):
                for dep in job.deps:
                    dep.done.wait()
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

    def _skippable(self, job: Job) -> bool:
        """After a failure or a stop, later records are abandoned: STATE cannot pass them anyway."""
        failure = self._failure
        return self._stopping or (failure is not None and job.seq > failure.seq)

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
        job.done.set()
        with self._lock:
            if delivered:
                self.delivered += 1
            elif self._barrier is None or job.seq < self._barrier:
                self._barrier = job.seq
            for key in job.keys:
                if self._last_key_job.get(key) is job:
                    del self._last_key_job[key]
            job.record = None
            job.work = None
            job.deps = []
            if job.seq == self._watermark:
                self._watermark += 1
                while self._watermark in self._finished_early:
                    self._finished_early.remove(self._watermark)
                    self._watermark += 1
            else:
                self._finished_early.add(job.seq)
            self._flush_states()

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
