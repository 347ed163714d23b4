"""When a released STATE is written, held or never written, and when a run has failed.

The ledger (`core.py`) says which STATE *may* go out: every record before it has ended.
This module says whether it *should*, from how those records ended, in the order they
ended. It holds no threads and does no I/O, so each rule is checked one event at a time
in the unit tests, against a model worked out from the whole history:

- The earliest failure wins: a resumed run starts from the last STATE, which is before
  the earliest failed record, so that is the record the user must hear about.
- A run of rejections (records dead-lettered one after another) holds back the STATE
  released meanwhile: it may yet turn out to be one cause rejecting everything, and a
  STATE past it would tell the tap that those records are done. A delivered record
  ends the run of rejections and lets the held STATE go.
- `max_rejected_in_a_row` rejections in a row fail the run, and no STATE is written
  after that: not the held one, not any later one.
- At the end of input, a run that delivered nothing and rejected every record, two or
  more, all with one error code, fails: one cause rejecting everything is not a green
  run. Otherwise the held STATE goes out.
- A record that waits for a contact may be parked only while the input goes on; once
  it has ended, no record can bring that contact any more.
"""

from __future__ import annotations

from dataclasses import dataclass

from target_intercom.delivery.core import State

# The sequence number of a failure that belongs to the run, not to one record.
RUN = -1


@dataclass(frozen=True)
class Failure:
    """Why the run failed, kept from the earliest record that failed.

    The earliest, not the first in time: records run side by side, and a resumed run
    starts from the last STATE, which is before the earliest failed record.
    """

    seq: int
    message: str


class Policy:
    """Driven by what happens to records; answers which STATE to write now and why the
    run failed. Not thread-safe: the pool calls it under its lock."""

    def __init__(self, *, emit_state: bool = True, max_rejected_in_a_row: int = 0) -> None:
        self._emit_state = emit_state
        self._max_in_a_row = max_rejected_in_a_row
        self._in_a_row = 0
        self._codes: set[str] = set()
        self._last_rejection = ""
        self._delivered_any = False
        self._held: State | None = None
        self._input_ended = False
        self.failure: Failure | None = None

    def released(self, state: State) -> State | None:
        """The ledger let this STATE go: it, to be written now; or None, when it is held
        through a run of rejections or may never be written."""
        if not self._emit_state:
            return None
        if self._in_a_row:
            self._held = state
            return None
        return state

    def delivered(self) -> State | None:
        """A record reached Intercom (or needed nothing): the STATE held through the run
        of rejections it ends, to be written now, if any."""
        self._in_a_row = 0
        self._codes.clear()
        self._delivered_any = True
        held, self._held = self._held, None
        return held

    def rejected(self, code: str, message: str) -> None:
        """A record was dead-lettered with this error code and message."""
        self._in_a_row += 1
        self._codes.add(code)
        self._last_rejection = f"{message} ({code})"
        if 0 < self._max_in_a_row <= self._in_a_row:
            self._fail_systemic()

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
        if (
            self._max_in_a_row
            and self._in_a_row >= 2
            and not self._delivered_any
            and len(self._codes) == 1
        ):
            self._fail_systemic()
        held, self._held = self._held, None
        return held

    def _fail_systemic(self) -> None:
        self.failed(
            RUN,
            f"the last {self._in_a_row} records in a row were all rejected (the last: "
            f"{self._last_rejection}); one cause rejecting every record is not bad rows, so "
            "the run stops without a STATE past them: fix the cause and run again "
            "(max_rejected_in_a_row sets how many in a row stop a run)",
        )
        self._emit_state = False
        self._held = None
