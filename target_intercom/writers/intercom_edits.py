"""Edits made in Intercom by someone else (a teammate in its UI), noticed so that the rows
they overwrote are sent again (the notice_intercom_edits setting).

The sync store says a contact holds what this target last wrote, so an unchanged row costs
no call; an edit made in Intercom since then is invisible to that rule. Intercom tells
when a contact last changed (`updated_at`), and the store keeps the `updated_at` that
Intercom answered this target's last write with: a later one is someone else's edit.
Once a run, before the first users record is settled, the contacts updated since the last
check are searched for, and each one the store knows whose `updated_at` moved past what
this target recorded has its fingerprint forgotten (durably), so that its row, when it
comes, is sent again: one update.

Search matches timestamps by calendar day in the workspace's time zone, and `>` starts at
the next day, so the search asks for `updated_at > (last check - 2 days)`: whatever the
zone, its daylight-saving days, and a clock of this host up to a day wrong, that day
ends before the last check began. It costs a call per 150 contacts updated in the 2 to 3
days it covers (this target's own writes included, which are then left alone).

The check's start is noted in the store's meta with its next batch of rows, after every
fingerprint forgotten is written (each is, before `doubt` returns): a run killed before
that searches the same window again next time, never a narrower one. The first run with
the setting on only notes the time: there is no earlier check to look back to.

Companies are not covered: 2.16 has no company search, and listing the companies (by
`last_request_at`, not `updated_at`; or the scroll, one per app at a time) would cost a
call per 50 or so companies every run, to find out which changed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from target_intercom.client import Client
from target_intercom.errors import FatalError, RecordError
from target_intercom.mapping import ContactPlan
from target_intercom.syncstore import SyncStore
from target_intercom.writers.contacts import ContactWriter
from target_intercom.writers.known import KnownContacts

logger = logging.getLogger("target-intercom")

PER_PAGE = 150
# Search's days start in the workspace's zone (UTC-12 to UTC+14), some last 25 hours, and
# this host's clock may be off: two days before the last check is a day before it anywhere.
MARGIN_SECONDS = 2 * 86_400
CHECKED = "intercom_edits_checked"


class IntercomEdits:
    """Once a run, forgets what was written to the contacts someone else changed since the
    last run (see the module's docstring)."""

    def __init__(
        self,
        client: Client,
        known: KnownContacts,
        store: SyncStore,
        *,
        enabled: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._known = known
        # For the contacts' rows as written (read only) and the check's time (meta).
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._done = not enabled
        # A check that could not finish for the run's own reasons (a stop, a token
        # refused): every users record meets it, as it would meet it calling Intercom.
        self._failure: FatalError | None = None

    def notice(self) -> None:
        """Checks once, on the first call; later calls wait for that check to end (the
        first is marked done only once its check ended: until then, another thread's
        call waits at the lock instead of going on to settle rows the check may doubt)."""
        if self._done and self._failure is None:
            return
        with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._done:
                return
            try:
                self._check()
            except FatalError as exc:
                self._failure = exc
                raise
            except RecordError as exc:
                logger.warning(
                    "Could not ask Intercom which contacts were edited there (%s); they are "
                    "looked for again next run",
                    exc.message,
                )
            finally:
                self._done = True

    def _check(self) -> None:
        started = int(self._clock())
        last = self._store.meta(CHECKED)
        if last is not None:
            doubted = self._doubt_edited_since(int(last) - MARGIN_SECONDS)
            if doubted:
                logger.info(
                    "%d contacts were edited in Intercom since the last run: their rows are "
                    "sent again when they come",
                    doubted,
                )
        self._store.note_meta(CHECKED, str(started))

    def _doubt_edited_since(self, since: int) -> int:
        """Pages through the contacts search shows updated after `since`'s day; returns
        how many were someone else's edits."""
        doubted = 0
        query = {"field": "updated_at", "operator": ">", "value": since}
        starting_after: str | None = None
        while True:
            pagination: dict[str, Any] = {"per_page": PER_PAGE}
            if starting_after:
                pagination["starting_after"] = starting_after
            page = (
                self._client.request(
                    "POST",
                    "/contacts/search",
                    json_body={"query": query, "pagination": pagination},
                ).body
                or {}
            )
            for contact in page.get("data") or []:
                if isinstance(contact, dict) and self._edited(contact):
                    self._known.doubt(str(contact["id"]))
                    doubted += 1
            starting_after = ((page.get("pages") or {}).get("next") or {}).get("starting_after")
            if not starting_after:
                return doubted

    def _edited(self, contact: dict[str, Any]) -> bool:
        """Whether someone else changed the contact after this target last wrote it.
        A row written before the store kept `updated_at` cannot tell: it is sent again
        (once; that write records it)."""
        if not contact.get("id"):
            return False
        row = self._store.contact_by_id(str(contact["id"]))
        if row is None or row.fingerprint is None:
            # Not this target's contact, or its row is to be sent anyway.
            return False
        updated = contact.get("updated_at")
        return not (
            isinstance(updated, int) and row.updated_at is not None and updated <= row.updated_at
        )


class NoticingEdits:
    """The users writer, behind the check: no users record is settled or written before
    the contacts edited in Intercom are known, and a run with no users record pays nothing."""

    def __init__(self, writer: ContactWriter, edits: IntercomEdits) -> None:
        self._writer = writer
        self._edits = edits

    def write(self, plan: ContactPlan) -> str:
        """The writer's `write`, after the check."""
        self._edits.notice()
        return self._writer.write(plan)

    def settled(self, plan: ContactPlan) -> str | None:
        """The writer's `settled`, after the check."""
        self._edits.notice()
        return self._writer.settled(plan)

    def prefetch(self, plans: list[ContactPlan]) -> None:
        """The writer's read ahead of a batch of records (one store read for all of them,
        which an unchanged re-sync's CPU depends on), after the check."""
        self._edits.notice()
        self._writer.prefetch(plans)
