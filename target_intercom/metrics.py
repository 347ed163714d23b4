"""Counters of one run, shared by the workers, read by the progress line and summary."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any


class Metrics:
    """Thread-safe tallies: API calls by endpoint, retries, 429s, and record outcomes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.retries = 0
        self.rate_limited = 0
        self.outcomes: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def count_call(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def count_rate_limited(self) -> None:
        with self._lock:
            self.rate_limited += 1

    def count_outcome(self, stream: str, outcome: str, n: int = 1) -> None:
        with self._lock:
            self.outcomes[stream][outcome] += n

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "api_calls": dict(self.calls),
                "api_calls_total": sum(self.calls.values()),
                "retries": self.retries,
                "rate_limited": self.rate_limited,
                "streams": {name: dict(c) for name, c in self.outcomes.items()},
            }
