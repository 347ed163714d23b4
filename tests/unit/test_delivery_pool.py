"""The threaded pool around the ledger, with plain callables as work: no HTTP."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from target_intercom.deadletter import DeadLetterFile
from target_intercom.delivery import Delivery
from target_intercom.delivery.core import State
from target_intercom.errors import FatalError, Interrupted, RecordError
from target_intercom.metrics import Metrics
from target_intercom.stop_request import StopRequest

# Generous: an event that should happen at once is waited for this long before failing.
WAIT = 2.0


class Written:
    """A write_state callback that keeps what it was given, and can be held."""

    def __init__(self) -> None:
        self.states: list[State] = []
        self.gate = threading.Event()
        self.gate.set()
        self.writing = threading.Event()

    def __call__(self, value: State) -> None:
        self.writing.set()
        assert self.gate.wait(WAIT), "write_state was held too long"
        self.states.append(value)


@dataclass(frozen=True)
class Work:
    """A plan for the pool alone: its ordering keys, and what writing it does."""

    keys: list[str]
    run: Callable[[], str]
    settle: Callable[[], str | None] = lambda: None

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        return tuple(self.keys)


class Writers:
    """Writes a `Work` by running it, as the run's writers write a plan."""

    def write(self, plan: Work) -> str:
        return plan.run()

    def settled(self, plan: Work) -> str | None:
        return plan.settle()


def make(
    written: Written,
    *,
    workers: int = 4,
    dead_letter: DeadLetterFile | None = None,
    metrics: Metrics | None = None,
    emit_state: bool = True,
    stop: StopRequest | None = None,
) -> Delivery:
    return Delivery(
        writers=Writers(),
        stop=stop or StopRequest(),
        max_concurrency=workers,
        dead_letter=dead_letter,
        write_state=written,
        metrics=metrics or Metrics(),
        emit_state=emit_state,
    )


def done(outcome: str = "created") -> Callable[[], str]:
    return lambda: outcome


def held(event: threading.Event, then: Callable[[], str] | None = None) -> Callable[[], str]:
    """Work that waits for the test to let it go, then does `then` (or just succeeds)."""

    def work() -> str:
        assert event.wait(WAIT), "the test never let this record go"
        return then() if then is not None else "created"

    return work


def failing(error: Exception) -> Callable[[], str]:
    def work() -> str:
        raise error

    return work


def eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.001)


def test_state_is_written_only_after_the_records_before_it() -> None:
    written = Written()
    delivery = make(written)
    slow = threading.Event()
    delivery.submit("users", "u0", {}, Work(["contact:u0"], held(slow)))
    delivery.submit("users", "u1", {}, Work(["contact:u1"], done()))
    delivery.state({"at": 2})
    eventually(lambda: delivery.delivered == 1)
    assert written.states == []
    slow.set()
    eventually(lambda: written.states == [{"at": 2}])
    delivery.submit("users", "u2", {}, Work([], done()))
    delivery.state({"at": 3})
    delivery.finish()
    assert written.states == [{"at": 2}, {"at": 3}]
    assert delivery.delivered == 3


def test_outcomes_are_counted_per_stream() -> None:
    metrics = Metrics()
    delivery = make(Written(), metrics=metrics)
    delivery.submit("users", "u1", {}, Work([], done("created")))
    delivery.submit("users", "u2", {}, Work([], done("unchanged")))
    delivery.submit("events", "#1", {}, Work([], done("created")))
    delivery.finish()
    assert metrics.snapshot()["streams"] == {
        "users": {"created": 1, "unchanged": 1},
        "events": {"created": 1},
    }


def test_a_slow_state_writer_stalls_neither_workers_nor_the_main_thread() -> None:
    written = Written()
    written.gate.clear()
    delivery = make(written, workers=2)
    first = threading.Event()
    delivery.submit("users", "u0", {}, Work([], held(first)))
    delivery.state({"at": 1})
    first.set()
    # The worker that delivered u0 is now stuck writing the STATE it freed...
    assert written.writing.wait(WAIT)
    # ...while the other worker keeps delivering, and the main thread keeps submitting.
    for i in range(1, 41):
        delivery.submit("users", f"u{i}", {}, Work([], done()))
    eventually(lambda: delivery.delivered == 41)
    started = time.monotonic()
    delivery.state({"at": 41})
    assert time.monotonic() - started < 0.5
    assert written.states == []
    written.gate.set()
    delivery.finish()
    assert written.states == [{"at": 1}, {"at": 41}]


def test_finish_waits_for_the_last_state_being_written() -> None:
    written = Written()
    written.gate.clear()
    delivery = make(written, workers=1)
    last = threading.Event()
    delivery.submit("users", "u0", {}, Work([], held(last)))
    delivery.state({"at": 1})
    last.set()
    # The worker, not finish(), is the one writing: finish() must still wait for it.
    assert written.writing.wait(WAIT)
    threading.Timer(0.05, written.gate.set).start()
    delivery.finish()
    assert written.states == [{"at": 1}]


def test_the_window_bounds_outstanding_records() -> None:
    delivery = make(Written(), workers=1)
    gate = threading.Event()
    for i in range(8):
        delivery.submit("users", f"u{i}", {}, Work([], held(gate)))
    ninth = threading.Thread(
        target=delivery.submit, args=("users", "u8", {}, Work([], done())), daemon=True
    )
    ninth.start()
    ninth.join(0.1)
    assert ninth.is_alive(), "a ninth record was taken in while eight were outstanding"
    gate.set()
    ninth.join(WAIT)
    assert not ninth.is_alive()
    delivery.finish()
    assert delivery.delivered == 9


def test_a_stop_asked_for_while_the_window_is_full_ends_the_wait_and_leaks_no_record() -> None:
    stop = StopRequest()
    stop.at_safe_point = False  # the reading thread is handling a record
    written = Written()
    delivery = make(written, workers=1, stop=stop)
    gate = threading.Event()
    for i in range(8):
        delivery.submit("users", f"u{i}", {}, Work([f"k{i}"], held(gate)))
    raised: list[BaseException] = []

    def ninth() -> None:
        try:
            delivery.submit("users", "u8", {}, Work([], done()))
        except Interrupted as exc:
            raised.append(exc)

    waiting = threading.Thread(target=ninth, daemon=True)
    waiting.start()
    waiting.join(0.1)
    assert waiting.is_alive()
    stop.requested(15)  # as the signal handler does: noted, not raised here
    waiting.join(WAIT)
    assert not waiting.is_alive(), "a stop did not end the wait for room"
    assert [str(e) for e in raised] == [
        "stopped by signal 15; the last STATE written is the one to resume from"
    ]
    # The eight taken in end (delivered or abandoned, as the stop finds them), and the
    # ninth was never counted nor run: the stop's own wait ends.
    gate.set()
    finished = threading.Thread(target=delivery.abort, daemon=True)
    finished.start()
    finished.join(WAIT)
    assert not finished.is_alive(), "the record the stop interrupted was left outstanding"
    assert 1 <= delivery.delivered <= 8


def test_a_stop_at_a_safe_point_is_raised_at_once_and_elsewhere_at_the_next_one() -> None:
    stop = StopRequest()
    lines = stop.lines(["a", "b", "c"])
    assert next(lines) == "a"
    stop.requested(2)  # while "a" is handled: not a safe point
    with pytest.raises(Interrupted, match="signal 2"):
        next(lines)
    at_start = StopRequest()
    with pytest.raises(Interrupted):
        at_start.requested(15)  # nothing admitted yet: safe at once
    assert list(StopRequest().lines(["x", "y"])) == ["x", "y"]


def test_the_earliest_failure_wins_and_later_records_are_abandoned() -> None:
    written = Written()
    delivery = make(written, workers=2)
    runs: Counter[str] = Counter()

    def counted(name: str) -> Callable[[], str]:
        def work() -> str:
            runs[name] += 1
            return "created"

        return work

    first, second = threading.Event(), threading.Event()
    delivery.state({"at": 0})
    delivery.submit("users", "u0", {}, Work(["a"], held(first, failing(FatalError("first")))))
    delivery.state({"at": 1})
    delivery.submit("users", "u1", {}, Work(["b"], held(second, failing(FatalError("second")))))
    delivery.submit("users", "u2", {}, Work(["a"], counted("u2")))
    delivery.submit("users", "u3", {}, Work([], counted("u3")))
    second.set()
    eventually(lambda: delivery.failure is not None)
    assert delivery.failure is not None
    assert delivery.failure.message == "second"
    with pytest.raises(FatalError, match=r"^second$"):
        delivery.submit("users", "u4", {}, Work([], counted("u4")))
    first.set()
    delivery.finish()
    assert delivery.failure is not None
    assert delivery.failure.message == "first"
    assert runs == Counter()
    assert delivery.delivered == 0
    assert written.states == [{"at": 0}]


def test_an_unexpected_exception_fails_the_run_naming_the_record() -> None:
    delivery = make(Written())
    delivery.submit("users", "id='u1'", {}, Work([], failing(KeyError("email"))))
    delivery.finish()
    assert delivery.failure is not None
    assert delivery.failure.message == (
        "internal error on stream 'users' record id='u1': KeyError: 'email'"
    )


def test_a_record_error_fails_the_run_without_a_dead_letter_file() -> None:
    written = Written()
    delivery = make(written)
    error = RecordError("email is invalid", "invalid_email")
    delivery.submit("users", "id='u1'", {"id": "u1"}, Work([], failing(error)))
    delivery.finish()
    assert delivery.failure is not None
    assert delivery.failure.message == (
        "stream 'users' record id='u1': email is invalid (invalid_email)"
    )
    delivery = make(written)
    with pytest.raises(FatalError, match=r"record #3 of the stream: no id \(no_identity\)$"):
        delivery.record_failed("users", "#3 of the stream", {}, RecordError("no id", "no_identity"))
    delivery.finish()


def test_record_errors_are_dead_lettered_when_a_file_is_given(tmp_path: Path) -> None:
    written = Written()
    metrics = Metrics()
    dead_letter = DeadLetterFile(str(tmp_path / "dead.jsonl"), secret="")
    delivery = make(written, dead_letter=dead_letter, metrics=metrics)
    error = RecordError("email is invalid", "invalid_email")
    delivery.submit("users", "id='u1'", {"id": "u1"}, Work(["contact:u1"], failing(error)))
    delivery.record_failed("users", "#2", {"id": None}, RecordError("no id", "no_identity"))
    delivery.submit("users", "id='u3'", {"id": "u3"}, Work(["contact:u1"], done()))
    delivery.state({"at": 3})
    delivery.finish()
    dead_letter.close()
    assert delivery.failure is None
    assert delivery.delivered == 3
    assert written.states == [{"at": 3}]
    assert metrics.snapshot()["streams"] == {"users": {"skipped": 2, "created": 1}}
    lines = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert sorted((line["record"]["id"] or "", line["error_code"]) for line in lines) == [
        ("", "no_identity"),
        ("u1", "invalid_email"),
    ]


def test_emit_state_false_never_writes_state() -> None:
    written = Written()
    delivery = make(written, emit_state=False)
    delivery.state({"at": 0})
    delivery.submit("users", "u1", {}, Work([], done()))
    delivery.state({"at": 1})
    delivery.finish()
    assert written.states == []
    assert delivery.delivered == 1


def test_abort_lets_running_records_end_and_abandons_the_rest() -> None:
    written = Written()
    delivery = make(written, workers=1)
    running = threading.Event()
    ran: list[str] = []

    def first() -> str:
        running.set()
        time.sleep(0.05)
        ran.append("u0")
        return "created"

    def second() -> str:
        ran.append("u1")
        return "created"

    delivery.submit("users", "u0", {}, Work([], first))
    delivery.state({"at": 1})
    delivery.submit("users", "u1", {}, Work([], second))
    delivery.state({"at": 2})
    assert running.wait(WAIT)
    delivery.abort()
    assert ran == ["u0"]
    assert written.states == [{"at": 1}]
    assert delivery.failure is None


def test_no_record_runs_twice_nor_beside_or_before_an_earlier_one_with_its_key() -> None:
    rng = random.Random(3)
    delivery = make(Written(), workers=16)
    lock = threading.Lock()
    runs: Counter[int] = Counter()
    busy: set[str] = set()
    order: dict[str, list[int]] = {}
    clashes: list[int] = []

    def work(seq: int, keys: tuple[str, ...]) -> Callable[[], str]:
        def run() -> str:
            with lock:
                runs[seq] += 1
                if busy & set(keys):
                    clashes.append(seq)
                busy.update(keys)
                for key in keys:
                    order.setdefault(key, []).append(seq)
            time.sleep(0)
            with lock:
                busy.difference_update(keys)
            return "created"

        return run

    expected: dict[str, list[int]] = {}
    for seq in range(3000):
        keys = tuple(rng.sample("abcdefgh", rng.randint(1, 2)))
        for key in keys:
            expected.setdefault(key, []).append(seq)
        delivery.submit("users", str(seq), {}, Work(keys, work(seq, keys)))
    delivery.finish()
    assert runs == Counter(range(3000))
    assert clashes == []
    assert order == expected
    assert delivery.delivered == 3000


def test_dead_letter_file_records_are_on_disk_before_the_state(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    dead_letter = DeadLetterFile(str(path), secret="")
    lines_at_state: list[int] = []

    def write_state(value: dict[str, Any]) -> None:
        lines_at_state.append(len(path.read_text().splitlines()))

    delivery = Delivery(
        writers=Writers(),
        stop=StopRequest(),
        max_concurrency=2,
        dead_letter=dead_letter,
        write_state=write_state,
        metrics=Metrics(),
    )
    delivery.submit("users", "u1", {"id": "u1"}, Work([], failing(RecordError("bad", "bad"))))
    delivery.state({"at": 1})
    delivery.finish()
    dead_letter.close()
    assert lines_at_state == [1]


def test_a_state_that_cannot_be_written_fails_the_run_instead_of_hanging() -> None:
    def broken_pipe(value: State) -> None:
        raise BrokenPipeError("the reader went away")

    delivery = Delivery(
        writers=Writers(),
        stop=StopRequest(),
        max_concurrency=2,
        dead_letter=None,
        write_state=broken_pipe,
        metrics=Metrics(),
    )
    delivery.submit("users", "u1", {}, Work(["a"], done()))
    delivery.state({"at": 1})
    finished = threading.Thread(target=delivery.finish, daemon=True)
    finished.start()
    finished.join(WAIT)
    assert not finished.is_alive()
    assert delivery.failure is not None
    assert delivery.failure.message == "cannot write STATE to stdout: the reader went away"
    with pytest.raises(FatalError, match="cannot write STATE"):
        delivery.submit("users", "u2", {}, Work(["b"], done()))
