"""One sink per kind of record: each maps a record and hands the work to the delivery pool.

The SDK calls `process_record` on the main thread, in input order; nothing here
waits for Intercom. Ordering keys name the contacts and companies a record touches,
so the pool keeps records about the same thing in input order.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from singer_sdk.sinks import RecordSink

from target_intercom.errors import MappingError, RecordError
from target_intercom.mapping import (
    ContactOptions,
    MappingWarning,
    RecordSchema,
    map_company,
    map_contact,
    map_event,
)

if TYPE_CHECKING:
    from target_intercom.runtime import Runtime


class IntercomSink(RecordSink):
    """What the three sinks share: the run's runtime, the digested schema, record keys."""

    def __init__(self, target: Any, stream_name: str, schema: dict, key_properties: Any) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.runtime: Runtime = target.runtime
        self.record_schema = RecordSchema(self.schema)
        self.position = 0  # the record's place in its stream, counted by the target

    def record_key(self, record: dict[str, Any]) -> str:
        """How a message names a record: its key properties, else its place in the stream."""
        if self.key_properties:
            return ", ".join(f"{k}={record.get(k)!r}" for k in self.key_properties)
        return f"#{self.position} of the stream"

    def process_record(self, record: dict, context: dict) -> None:
        try:
            keys, work = self.plan(record)
        except MappingError as exc:
            self.reject(record, exc)
            return
        self.runtime.delivery.submit(self.stream_name, self.record_key(record), record, keys, work)

    def reject(self, record: dict, error: RecordError) -> None:
        """A record that cannot even be mapped: dead-lettered under skip, else the run stops."""
        self.runtime.delivery.record_failed(
            self.stream_name, self.record_key(record), record, error
        )

    def warn(self, warnings: list[MappingWarning]) -> None:
        for warning in warnings:
            self.runtime.notices.warn_once(warning.key, warning.message)

    def plan(self, record: dict) -> tuple[tuple[str, ...], Any]:
        raise NotImplementedError


class UsersSink(IntercomSink):
    def plan(self, record: dict) -> tuple[tuple[str, ...], Any]:
        settings = self.runtime.settings
        contact = map_contact(
            record,
            self.record_schema,
            ContactOptions(
                role=settings.contact_role,
                anonymous_id_as_user_id=settings.anonymous_id_as_user_id,
                include_context=settings.include_context,
            ),
        )
        self.warn(contact.warnings)
        keys = contact.identities() + tuple(f"company:{c.company_id}" for c in contact.companies)
        return keys, partial(self.runtime.contacts.write, contact, self.record_schema)


class CompaniesSink(IntercomSink):
    def plan(self, record: dict) -> tuple[tuple[str, ...], Any]:
        company = map_company(record, self.record_schema)
        self.warn(company.warnings)
        keys = (
            f"company:{company.company_id}",
            *(f"contact:external_id:{user_id}" for user_id in company.user_ids),
        )
        return keys, partial(
            self.runtime.companies.write,
            company,
            self.record_schema,
            self.runtime.contacts.contact_id,
        )


class EventsSink(IntercomSink):
    def plan(self, record: dict) -> tuple[tuple[str, ...], Any]:
        event = map_event(record, self.record_schema)
        self.warn(event.warnings)
        return event.identities(), partial(self.runtime.events.write, event)


SINKS: dict[str, type[IntercomSink]] = {
    "users": UsersSink,
    "contacts": UsersSink,
    "identifies": UsersSink,
    "companies": CompaniesSink,
    "groups": CompaniesSink,
    "events": EventsSink,
    "tracks": EventsSink,
}
