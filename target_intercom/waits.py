"""How long a run waits before it tries again: one value for every retry, backoff, search
and pacing wait of the run.

`Runtime` gets it once and hands it to the client, the pacer and the contact writer, so
no module reads a constant of its own: the target's tests run the same code with
millisecond waits, where production waits seconds. Every wait here is bounded, and each
ends at once when the run stops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Waits:
    """The production defaults, and why each is what it is (seconds throughout):

    `conflict_retries` (0.5, 2.0): before each new try of a create that Intercom answered
    with a 409 naming no contact. About 1 % of creates get such a 409 for no reason, and
    it is gone on the next try a moment later; two more tries, the second after a longer
    pause, and the contact is looked up instead (README: "A 409 that names no contact").

    `lead_search` (0, 1, 2, 4, 8): before each search for a lead whose create got no
    answer. The first search goes at once (the create may have been applied); then,
    doubling, 15 s in all: long enough for a search that lags seconds, short enough that
    a lead search lagging minutes costs one record error (`lead_unconfirmed`), not a stalled
    worker. The README quotes the 15 s.

    `backoff_factor` 0.5 and `backoff_max` 30: exponential backoff with full jitter between
    the retries of a connection error, timeout, 408 or 5xx: up to 0.5 s, then 1 s, 2 s,
    ... (most 5xx and dropped connections are gone within a second, and the jitter keeps
    32 workers from retrying in step); once `max_retries` is raised past 6, no wait is
    longer than 30 s, so a long outage is still tried twice a minute.

    `reset_max` 60: the longest a worker sleeps on one rate-limit reset time. Intercom's
    windows are 10 s, so a longer wait means a clock far off from Intercom's, which must
    not park the run for an hour: after this the budget is looked at again.

    `reset_min` 0.05: after a 429 whose reset time has already passed by our reading of
    Intercom's clock (known to within a second), a short pause rather than none, so the
    retry does not go straight back into the window that refused it.

    `reset_unknown` 1: after a 429 that names no reset time, a tenth of Intercom's 10 s
    window: a guess that costs at most a few more 429s, each answered the same way.
    """

    conflict_retries: tuple[float, ...] = (0.5, 2.0)
    lead_search: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0)
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    reset_max: float = 60.0
    reset_min: float = 0.05
    reset_unknown: float = 1.0

    def __post_init__(self) -> None:
        waits = (
            *self.conflict_retries,
            *self.lead_search,
            self.backoff_factor,
            self.backoff_max,
            self.reset_max,
            self.reset_min,
            self.reset_unknown,
        )
        if not all(math.isfinite(w) and w >= 0 for w in waits):
            raise ValueError(f"every wait must be a finite number of seconds >= 0: {self}")

    @property
    def lead_search_total(self) -> float:
        """How long a lead whose create got no answer is searched for, in all."""
        return sum(self.lead_search)
