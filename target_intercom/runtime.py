"""The wiring of one run: the client, the writers, the kinds of record, and delivery.

Built once from the settings, so that no other module reads settings it has no use for
and a record's data flows one way: sink (mapping) -> delivery -> writer -> client ->
Intercom. Dry run is decided here and nowhere else: it swaps the client for one that
writes nothing, and keeps STATE back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from target_intercom.client import ApiError, Client, IntercomClient
from target_intercom.deadletter import DeadLetterFile, DryRunDeadLetters
from target_intercom.delivery import Delivery, Progress
from target_intercom.dryrun import BANNER, DryRunClient
from target_intercom.errors import AuthError, FatalError
from target_intercom.kinds import Kinds
from target_intercom.mapping import (
    CompanyPlan,
    ContactOptions,
    ContactPlan,
    CustomObjectPlan,
    EventPlan,
    map_company,
    map_contact,
    map_event,
)
from target_intercom.metrics import Metrics
from target_intercom.notices import Notices
from target_intercom.pacing import Pacer
from target_intercom.settings import REGION_URLS, Settings
from target_intercom.stop_request import StopRequest
from target_intercom.summary import log_summary
from target_intercom.syncstore import store_at
from target_intercom.waits import Waits
from target_intercom.writers.attributes import DataAttributes
from target_intercom.writers.companies import CompanyWriter
from target_intercom.writers.contacts import ContactWriter
from target_intercom.writers.custom_objects import CustomObjectWriter
from target_intercom.writers.events import EventWriter
from target_intercom.writers.intercom_edits import IntercomEdits, NoticingEdits
from target_intercom.writers.known import KnownCompanies, KnownContacts
from target_intercom.writers.lookup import ContactLookup
from target_intercom.writers.modes import WriteModes
from target_intercom.writers.tags import Tags
from target_intercom.writers.workspace_index import WorkspaceIndex

logger = logging.getLogger("target-intercom")


class Runtime:
    """What one run shares, built from its settings: see the module's docstring."""

    def __init__(
        self,
        settings: Settings,
        write_state: Callable[[dict[str, Any]], None],
        progress_every: float = 10.0,
        waits: Waits = Waits(),
        stop: StopRequest | None = None,
    ) -> None:
        self.settings = settings
        self.started = time.monotonic()
        self.metrics = Metrics()
        self.notices = Notices()
        self.contact_options = ContactOptions(
            role=settings.contact_role,
            anonymous_id_as_user_id=settings.anonymous_id_as_user_id,
            last_seen_from_calls=settings.last_seen_from_calls,
            include_context=settings.include_context,
            warehouse_columns=settings.warehouse_columns,
            row_time_columns=tuple(settings.row_time_columns.items()),
            company_columns=settings.company_columns,
            phone_lookup="phone" in settings.lookup_fields,
        )
        self.dead_letter = (
            (DryRunDeadLetters if settings.dry_run else DeadLetterFile)(
                settings.dead_letter_path, secret=settings.access_token
            )
            if settings.on_record_error == "skip"
            else None
        )
        # Set by a stop: calls on the wire end, no other call or retry starts.
        self._stopping = threading.Event()
        self.http = IntercomClient(
            base_url=settings.base_url,
            access_token=settings.access_token,
            api_version=settings.api_version,
            timeout=settings.request_timeout,
            max_retries=settings.max_retries,
            pacer=Pacer(settings.requests_per_minute, self._stopping, waits=waits),
            metrics=self.metrics,
            pool_size=settings.max_concurrency,
            stopping=self._stopping,
            waits=waits,
        )
        self.dry_run = DryRunClient(self.http) if settings.dry_run else None
        client: Client = self.http if self.dry_run is None else self.dry_run
        if self.dry_run is not None:
            logger.warning(BANNER)
        attributes = DataAttributes(
            client, settings.unknown_attributes, self.notices, dry_run=settings.dry_run
        )
        # Opened in `start`, once the token's workspace is known; a dry run reads it
        # but writes nothing to it, as it writes nothing to Intercom.
        self.store = store_at(
            settings.sync_store_path,
            settings.sync_store_url,
            read_only=settings.dry_run,
            timeout=settings.sync_store_timeout,
            wait=settings.sync_store_wait,
        )
        modes = WriteModes(
            update_only=settings.write_mode == "update_only",
            full_resync=settings.full_resync,
            mirror=settings.mirror_tags_and_companies,
        )
        tags = Tags(client)
        lookup = ContactLookup(client, settings.lookup_fields)
        known = KnownContacts(self.store)
        self.companies = CompanyWriter(
            client, attributes, lookup, KnownCompanies(self.store), known, tags, modes
        )
        self.contacts = ContactWriter(
            client,
            attributes,
            self.companies,
            known,
            lookup,
            tags,
            WorkspaceIndex(client, lookup, known, self.store, enabled=not settings.dry_run),
            delete_mode=settings.delete_mode,
            modes=modes,
            stopping=self._stopping,
            waits=waits,
        )
        self.events = EventWriter(
            client,
            known,
            lookup,
            self.store,
            full_resync=settings.full_resync,
            memory_days=settings.event_memory_days,
        )
        # Every kind of record the target loads; a new kind is one more line here.
        self.kinds = Kinds()
        edits = IntercomEdits(client, known, self.store, enabled=settings.notice_intercom_edits)
        self.kinds.register(
            ("users", "contacts", "identifies"),
            ContactPlan,
            map_contact,
            NoticingEdits(self.contacts, edits),
        )
        self.kinds.register(("companies", "groups"), CompanyPlan, map_company, self.companies)
        self.kinds.register(("events", "tracks"), EventPlan, map_event, self.events)
        objects = CustomObjectWriter(
            client, known, lookup, KnownCompanies(self.store), full_resync=settings.full_resync
        )
        for stream, kind in settings.custom_objects.items():
            self.kinds.register((stream,), CustomObjectPlan, kind.map, objects)
        self.delivery = Delivery(
            writers=self.kinds,
            stop=stop or StopRequest(),
            max_concurrency=settings.max_concurrency,
            dead_letter=self.dead_letter,
            write_state=write_state,
            metrics=self.metrics,
            # A dry run delivers nothing, so it must not tell Meltano that it did.
            emit_state=not settings.dry_run,
            max_rejected_in_a_row=(
                settings.max_rejected_in_a_row if settings.on_record_error == "skip" else 0
            ),
            loaded_before=self.store.has_history,
        )
        self.progress = Progress(self.delivery, every=progress_every)
        self._closed = False

    def start(self) -> None:
        """Before any record is read: the token and the sync store, each one clear line
        when it cannot be used."""
        workspace = self.check_access()
        self.store.open(workspace)
        self.events.open()

    def check_access(self) -> str | None:
        """One cheap call before any record: a bad token or a wrong api_base_url fails the
        run here, as its first and only error, instead of failing every record after it
        (under `skip`, into the dead-letter file while STATE moves on). Returns the
        workspace's id, which the sync store is kept for."""
        try:
            me = self.http.request("GET", "/me").body or {}
        except AuthError as exc:
            raise AuthError(
                f"{exc} It was sent to {self.http.host}: a token of a workspace hosted in "
                "another region needs that region's setting (region: us, eu or au)."
            ) from None
        except ApiError as exc:
            raise FatalError(
                f"{self.settings.base_url} answered {exc.status} to GET /me, where "
                "Intercom's API answers with the token's workspace: is api_base_url the "
                "API's root (like https://api.intercom.io)?"
            ) from None
        app = me.get("app") if isinstance(me, dict) else None
        region = str(app.get("region") or "").lower() if isinstance(app, dict) else ""
        if region in REGION_URLS and self.settings.region_stated and region != self.settings.region:
            raise FatalError(
                f"the access token belongs to a workspace hosted in the {region.upper()} "
                f"region, but region is {self.settings.region!r}: set region to {region!r}"
            )
        if not isinstance(app, dict):
            return None
        logger.info(
            "Loading into Intercom workspace %r (region %s)", app.get("name"), app.get("region")
        )
        return str(app.get("id_code") or "") or None

    def close(self, *, wait: bool, input_ended: bool = True) -> None:
        """Ends the run: with wait, every queued record is delivered first (the ones
        waiting for a contact get a last try only if the input ended); then the summary."""
        if self._closed:
            return
        self._closed = True
        try:
            if wait:
                try:
                    self.delivery.finish(input_ended=input_ended)
                except BaseException:
                    # A signal while the backlog drains: stop starting records, but let
                    # the calls in flight end, so that none lands after the exit unseen.
                    self._abort()
                    raise
            else:
                self._abort()
        finally:
            self.progress.stop()
            self.http.close()
            try:
                self.store.close()
            except FatalError as exc:
                if wait:
                    raise
                # A stop's own line ends the run; a store that failed is said once, here.
                logger.warning("%s; the next run sends again what it had not recorded", exc)
            finally:
                if self.dead_letter is not None:
                    self.dead_letter.close()
                self.log_summary()

    def _abort(self) -> None:
        self._stopping.set()
        self.delivery.abort()

    def log_summary(self) -> None:
        """Logs the run's closing lines (summary.py)."""
        log_summary(
            self.metrics,
            elapsed=time.monotonic() - self.started,
            would_send=None if self.dry_run is None else self.dry_run.would_send(),
            dead_letter=None if self.dead_letter is None else self.dead_letter.path,
            would_dead_letter=(
                self.dead_letter.would_write
                if isinstance(self.dead_letter, DryRunDeadLetters)
                else None
            ),
        )
