"""When a released STATE is written, held or never written, and when a run has failed.

The ledger (`core.py`) says which STATE *may* go out: every record before it has ended.
This module says whether it *should*, from how those records ended, in the order they
ended. It holds no threads and does no I/O, so each rule is checked one event at a time
in the unit tests, against a model worked out from the whole history:

- The earliest failure wins: a resumed run starts from the last STATE, which is before
  the earliest failed record, so that is the record the user must hear about.
- Rejections are counted in a row in input order, not in the order records end (workers
  end them in any order): records neighbours in the input, all dead-lettered. A record
  that waited for its contact (parked) counts neither way: it ends long after its
  neighbours, at the end of input if its contact never came, and a few such records
  spread through the input are bad rows, not one cause.
- A run of rejections holds back the STATE released meanwhile: it may yet turn out to
  be one cause rejecting everything, and a STATE past it would tell the tap that those
  records are done. A delivered record ends the run of rejections and lets the held
  STATE go.
- `max_rejected_in_a_row` rejections in a row fail the run, and no STATE is written
  after that: not the held one, not any later one.
- At the end of input, a run that delivered nothing and rejected every record, two or
  more, all with one error code, fails: one cause rejecting everything is not a green
  run. Otherwise the held STATE goes out.
- An anonymous call (not sent, as Segment drops it) counts neither way in a run of
  rejections, and lets STATE pass it once a record was delivered; until then a STATE
  past it is held. A first load whose every record, two or more, was an anonymous call
  sent nothing, and fails: one cause (the setting anonymous_id_as_user_id, or the wrong
  table) is not a green run. Once the pipeline has loaded before (`loaded_before`), such
  a run is an incremental window in which only anonymous visitors came: its STATE goes
  out, or every later run would read the window again and fail with it.
- A record that waits for a contact may be parked only while the input goes on; once
  it has ended, no record can bring that contact any more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from target_intercom.delivery.core import State

# The sequence number of a failure that belongs to the run, not to one record.
RUN = -1
# How a record first ended, for the run of rejections in input order.
_DELIVERED = "delivered"
_REJECTED = "rejected"
_PASSED = "passed"


@dataclass(frozen=True)
class Failure:
    """Why the run failed, kept from the earliest record that failed.

    The earliest, not the first in time: records run side by side, and a resumed run
    starts from the last STATE, which is before the earliest failed record.
    """

    seq: int
    message: str


class Policy:
    """Driven by what happens to records (each by its sequence number, its place in the
    input); answers which STATE to write now and why the run failed. Not thread-safe: the
    pool calls it under its lock."""

    def __init__(
        self,
        *,
        emit_state: bool = True,
        max_rejected_in_a_row: int = 0,
        loaded_before: Callable[[], bool] = lambda: False,
    ) -> None:
        self._emit_state = emit_state
        self._loaded_before = loaded_before
        self._max_in_a_row = max_rejected_in_a_row
        # How the records from `_next` on first ended, until `_next` itself has: a run of
        # rejections is counted over them in input order.
        self._next = 0
        self._ended: dict[int, str] = {}
        self._in_a_row = 0
        self._last_rejection = ""
        # Over the whole run, whatever order and however often records ended.
        self._rejected = 0
        self._anonymous = 0
        self._codes: set[str] = set()
        self._delivered_any = False
        self._held: State | None = None
        self._input_ended = False
        self.failure: Failure | None = None

    def released(self, state: State) -> State | None:
        """The ledger let this STATE go: it, to be written now; or None, when it is held
        through a run of rejections or may never be written."""
        if not self._emit_state:
            return None
        if self._in_a_row or self._only_anonymous:
            self._held = state
            return None
        return state

    def delivered(self, seq: int) -> State | None:
        """Record `seq` reached Intercom (or needed nothing): the STATE held through a run
        of rejections this ends, to be written now, if any."""
        self._delivered_any = True
        return self._ended_as(seq, _DELIVERED)

    def rejected(self, seq: int, code: str, message: str) -> State | None:
        """Record `seq` was dead-lettered with this error code and message."""
        self._rejected += 1
        self._codes.add(code)
        self._last_rejection = f"{message} ({code})"
        return self._ended_as(seq, _REJECTED)

    def anonymous(self, seq: int) -> State | None:
        """Record `seq` was an anonymous call, not sent: it counts neither way in a run of
        rejections, only toward a run of nothing but anonymous calls."""
        self._anonymous += 1
        return self._ended_as(seq, _PASSED)

    def passed(self, seq: int) -> State | None:
        """Record `seq` counts neither way: it waits for its contact (parked), or it was
        abandoned or failed the run."""
        return self._ended_as(seq, _PASSED)

    def failed(self, seq: int, message: str) -> None:
        """Record `seq` failed the run (or, with `RUN`, the run itself cannot go on)."""
        # A failure of the run is kept once set; of records, the earliest record's.
        if self.failure is None or (seq != RUN and seq < self.failure.seq):
            self.failure = Failure(seq, message)

    @property
    def may_park(self) -> bool:
        """Whether a record waiting for a contact may still wait for it."""
        return not self._input_ended

    def input_ended(self) -> None:
        """No record comes any more: a record waiting for a contact now fails instead."""
        self._input_ended = True

    def ended(self) -> State | None:
        """Every record has ended: the held STATE, to be written now, unless the whole run
        was one cause rejecting everything (then the run fails)."""
        one_cause = self._rejected >= 2 and not self._delivered_any and len(self._codes) == 1
        if self._max_in_a_row and one_cause:
            self._fail_systemic(self._rejected)
        only_anonymous = self._anonymous >= 2 and not self._delivered_any and not self._rejected
        if only_anonymous and not self._loaded_before():
            self.failed(
                RUN,
                f"all {self._anonymous} records of the run were anonymous calls (no user id "
                "or email, only an anonymous id), so nothing was sent: set "
                "anonymous_id_as_user_id to send them as the anonymous id's contact, or load "
                "rows that name a user",
            )
            self._emit_state = False
            self._held = None
        held, self._held = self._held, None
        return held

    def _ended_as(self, seq: int, how: str) -> State | None:
        """Notes how record `seq` first ended (a parked record ends again later: that
        counts for the run, not for its place), then counts the run of rejections over
        the records now ended in input order."""
        if seq < self._next or seq in self._ended:
            return None
        self._ended[seq] = how
        while self._next in self._ended:
            how = self._ended.pop(self._next)
            self._next += 1
            if how == _REJECTED:
                self._in_a_row += 1
                if 0 < self._max_in_a_row <= self._in_a_row:
                    self._fail_systemic(self._in_a_row)
            elif how == _DELIVERED:
                self._in_a_row = 0
        if self._in_a_row or self._only_anonymous:
            return None
        held, self._held = self._held, None
        return held

    @property
    def _only_anonymous(self) -> bool:
        """Every record ended so far that counts was an anonymous call: a STATE past them
        is held, as through a run of rejections, until a record is delivered."""
        return bool(self._anonymous) and not self._delivered_any

    def _fail_systemic(self, count: int) -> None:
        self.failed(
            RUN,
            f"the last {count} records in a row were all rejected (the last: "
            f"{self._last_rejection}); one cause rejecting every record is not bad rows, so "
            "the run stops without a STATE past them: fix the cause and run again "
            "(max_rejected_in_a_row sets how many in a row stop a run)",
        )
        self._emit_state = False
        self._held = None
