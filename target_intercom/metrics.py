"""Counters of one run, shared by the workers, read by the progress line and summary."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any

# A record's outcome, as the writers and the record-error policy name it, says what it
# did to Intercom. Outcomes not listed here (created, updated, upserted, sent, deleted,
# archived) wrote to Intercom, or would have in a dry run.
RECEIVED = "received"
SKIPPED = "skipped"
# An event this target delivered in an earlier run (or earlier in this one).
ALREADY_SENT = "already_sent"
# Nothing needed sending: Intercom already held what the record says, there was nothing
# to delete, or deletes are ignored.
UNCHANGED = frozenset({"unchanged", "already_absent", "delete_ignored", ALREADY_SENT})
# Under write_mode update_only: the record names no contact or company Intercom has.
NOT_IN_INTERCOM = "not_in_intercom"
# Older than the row of the same contact or company whose values were written (a history
# table's earlier rows): not sent, so that the newest row's values stay.
SUPERSEDED = "superseded"
# An event older than event_memory_days: taken as delivered long ago, not sent.
PAST_EVENT_MEMORY = "past_event_memory"
# A call naming its sender only by an anonymous id: not sent, as Segment and RudderStack
# drop it (errors.AnonymousCall).
ANONYMOUS = "anonymous"


def outcome_label(outcome: str, *, dry_run: bool) -> str:
    """How the summary names an outcome: in a dry run a write is only what would be done."""
    if dry_run and outcome not in UNCHANGED and outcome not in _NOT_WRITES:
        return f"would be {outcome}"
    return outcome


_NOT_WRITES = (RECEIVED, SKIPPED, NOT_IN_INTERCOM, SUPERSEDED, PAST_EVENT_MEMORY, ANONYMOUS)


class Metrics:
    """Thread-safe tallies: API calls by endpoint, retries, 429s, and record outcomes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.retries = 0
        self.rate_limited = 0
        # Members of companies written whose contacts never came (delivery/failures.py).
        self.members_not_found = 0
        self.outcomes: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def count_call(self, endpoint: str) -> None:
        """One call made to this endpoint (template, not URL: no ids, no emails)."""
        with self._lock:
            self.calls[endpoint] += 1

    def count_retry(self) -> None:
        """One call tried again after a transient failure."""
        with self._lock:
            self.retries += 1

    def count_rate_limited(self) -> None:
        """One 429: the pacer let a call through that Intercom refused for the rate limit."""
        with self._lock:
            self.rate_limited += 1

    def count_members_not_found(self, n: int) -> None:
        """A record wrote its company but `n` of its members never came: not attached."""
        with self._lock:
            self.members_not_found += n

    def count_outcome(self, stream: str, outcome: str, n: int = 1) -> None:
        """A record of this stream ended with this outcome."""
        with self._lock:
            self.outcomes[stream][outcome] += n

    def record_totals(self, *, dry_run: bool) -> dict[str, int]:
        """Every stream's records by what they did to Intercom.

        `records_delivered` counts only records written to Intercom (or confirmed there),
        never a dead-lettered one (`records_skipped`), a superseded one
        (`records_superseded`: older than a row of its contact already written), an
        anonymous call (`records_anonymous`: not sent, as Segment drops it) nor, in
        a dry run, one that would have been written (`records_would_send`).
        `records_unfinished` were read but not finished: the one that failed the run, and
        those a failure or a stop abandoned.
        """
        with self._lock:
            done: Counter[str] = Counter()
            for outcomes in self.outcomes.values():
                done.update(outcomes)
        received = done.pop(RECEIVED, 0)
        skipped = done.pop(SKIPPED, 0)
        unchanged = sum(done.pop(outcome, 0) for outcome in UNCHANGED)
        absent = done.pop(NOT_IN_INTERCOM, 0)
        superseded = done.pop(SUPERSEDED, 0)
        past = done.pop(PAST_EVENT_MEMORY, 0)
        anonymous = done.pop(ANONYMOUS, 0)
        written = sum(done.values())
        return {
            "records_received": received,
            "records_delivered": 0 if dry_run else written,
            "records_would_send": written if dry_run else 0,
            "records_skipped": skipped,
            "records_unchanged": unchanged,
            "records_not_in_intercom": absent,
            "records_superseded": superseded,
            "records_past_event_memory": past,
            "records_anonymous": anonymous,
            "records_unfinished": max(
                0,
                received - written - skipped - unchanged - absent - superseded - past - anonymous,
            ),
        }

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain JSON values, for the SUMMARY line."""
        with self._lock:
            return {
                "api_calls": dict(self.calls),
                "api_calls_total": sum(self.calls.values()),
                "retries": self.retries,
                "rate_limited": self.rate_limited,
                "members_not_found": self.members_not_found,
                "streams": {name: dict(c) for name, c in self.outcomes.items()},
            }
