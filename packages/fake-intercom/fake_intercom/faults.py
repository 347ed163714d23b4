"""Injected failures: the ways real networks and Intercom's edge fail a client.

The target's delivery guarantees (retries, no duplicates, STATE as a watermark) are only
proven by tests that meet these failures, so each kind mimics one real failure mode.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any

FAULT_KINDS: tuple[str, ...] = ("500", "502_html", "503", "drop", "timeout", "apply_then_drop")
# Asked for by name only: a success that is not Intercom's (a captive portal, a proxy's
# page), and Intercom's spurious 409 that names no contact.
EXTRA_FAULT_KINDS: tuple[str, ...] = (
    "200_html",
    "409_conflict",
    "apply_then_empty",
    "apply_then_null",
    "apply_then_empty_object",
    "apply_then_trickle",
)

BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
    b"<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


@dataclasses.dataclass(frozen=True)
class Faults:
    """With probability `rate`, a request gets one of `kinds`, drawn from a seeded RNG.

    500/503: Intercom's error envelope, nothing applied. 502_html: an HTML page from the
    edge, as load balancers send. drop: the connection closes with no answer, nothing
    applied. timeout: no answer for `timeout` seconds, then the connection closes.
    apply_then_drop: a write is applied and then the connection closes unanswered, so a
    client that retries a create meets its own 409. 200_html (only when named in `kinds`):
    an HTML page with status 200, nothing applied. 409_conflict (only when named): 409
    `conflict` "Conflict", naming no contact, nothing applied, as Intercom answers about
    1 % of identifies for no reason (rudder-transformer #5090, intercom-php #344): a
    client must neither take it for success nor give the record up. apply_then_empty,
    apply_then_null, apply_then_empty_object (only when named): the call is applied and
    its 2xx answer comes with an empty body, `null` or `{}`, as a proxy or a truncating
    edge can make it: a client must not take the missing id for an answer.
    apply_then_trickle (only when named): the call is applied and its answer trickles in,
    one byte every `timeout` seconds, as a stalled proxy sends it: no single read waits
    long, so only a bound on the whole answer ends it. `paths` limits faults
    to those route templates, with or without the method ("/contacts" or "POST /contacts").
    """

    rate: float = 0.0
    kinds: Sequence[str] = FAULT_KINDS
    seed: int = 0
    timeout: float = 5.0
    paths: Collection[str] | None = None

    def __post_init__(self) -> None:
        kinds = tuple(self.kinds)
        unknown = set(kinds) - set(FAULT_KINDS + EXTRA_FAULT_KINDS)
        if unknown or not kinds:
            raise ValueError(
                f"fault kinds must be a non-empty subset of {FAULT_KINDS + EXTRA_FAULT_KINDS}"
            )
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        object.__setattr__(self, "kinds", kinds)
        if self.paths is not None:
            object.__setattr__(self, "paths", frozenset(self.paths))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        """From the JSON object that `POST /_fake/configure` carries."""
        return cls(**data)

    def applies_to(self, method: str, template: str) -> bool:
        return self.rate > 0 and (
            self.paths is None or template in self.paths or f"{method} {template}" in self.paths
        )


class FaultPicker:
    """Draws faults from one seeded RNG shared by all request threads."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._random = random.Random(faults.seed)
        self._lock = threading.Lock()

    def pick(self, method: str, template: str) -> str | None:
        """The fault for this request, or None for a normal answer."""
        if not self.faults.applies_to(method, template):
            return None
        with self._lock:
            if self._random.random() >= self.faults.rate:
                return None
            kind = self._random.choice(self.faults.kinds)
        if kind == "apply_then_drop" and method == "GET":
            return "drop"  # nothing to apply: the same as a plain drop
        return kind
