"""Dry run: everything a real run does, except that nothing is written to Intercom.

Swapping the client is the whole of dry run: mapping, the writers' decisions and
delivery run as in a real load, so what a dry run reports is what a real run would do
(for a workspace where every contact is new). Reads still reach Intercom, since they
change nothing and tell which attributes and contacts exist; every write is counted by
endpoint for the summary, logged with its payload at DEBUG only (payloads hold emails
and phones), and answered as Intercom would answer a success, with a made-up id.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections import Counter
from typing import Any

from target_intercom.client import Client, Response

logger = logging.getLogger("target-intercom")

BANNER = "DRY RUN: nothing will be written to Intercom; reads still reach it"

# Calls that only read, though some are POSTs (search takes its query as a body).
_READS = frozenset({"POST /contacts/search"})


class DryRunClient:
    """A `Client` that passes reads to the real one and counts each write instead of sending it."""

    def __init__(self, reads: Client) -> None:
        self._reads = reads
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._writes: Counter[str] = Counter()

    def would_send(self) -> dict[str, int]:
        """The writes held back so far, by endpoint ("POST /contacts/{contact_id}/companies")."""
        with self._lock:
            return dict(self._writes)

    def request(self, method: str, template: str, **options: Any) -> Response:
        """Reads go to Intercom; writes are logged and tallied, and answered as Intercom would."""
        if method == "GET" or f"{method} {template}" in _READS:
            return self._reads.request(method, template, **options)
        if logger.isEnabledFor(logging.DEBUG):
            where = template.format(**(options.get("path") or {}))
            json_body = options.get("json_body")
            body = "" if json_body is None else " " + json.dumps(json_body, default=str)
            logger.debug("Dry run: would send %s %s%s", method, where, body)
        with self._lock:
            self._writes[f"{method} {template}"] += 1
            made_up = f"dry-run-{next(self._ids)}"
        return Response(200, {"id": made_up})
