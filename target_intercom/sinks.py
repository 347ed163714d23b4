"""One sink per kind of record: each maps a record to a plan and hands the plan's writing
to the delivery pool.

singer-sdk's record loop calls `process_record` on the main thread, in input order, after
its own validation (through `get_validator`, see record_check.py), date parsing and
`preprocess_record`; nothing here waits for Intercom. A plan's ordering keys name the
contacts and companies its record touches, so the pool keeps records about the same thing
in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from singer_sdk.sinks import RecordSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

from target_intercom.errors import FatalError, MappingError, RecordError
from target_intercom.mapping import (
    MappingWarning,
    RecordSchema,
    map_company,
    map_contact,
    map_event,
)
from target_intercom.record_check import SDK_METADATA, RecordCheck

# Answers "unchanged" when a record needs no call, else None.
Settle = Callable[[], str | None]

if TYPE_CHECKING:
    from target_intercom.runtime import Runtime


class Plan(Protocol):
    @property
    def ordering_keys(self) -> tuple[str, ...]: ...

    @property
    def warnings(self) -> list[MappingWarning]: ...


class IntercomSink(RecordSink):
    """What the three sinks share: the run's runtime, the digested schema, record keys."""

    def __init__(self, target: Any, stream_name: str, schema: dict, key_properties: Any) -> None:
        self.runtime: Runtime = target.runtime
        super().__init__(target, stream_name, schema, key_properties)
        self.record_schema = RecordSchema(self.schema)
        self.position = 0  # the record's place in its stream, for messages about it

    @property
    def include_sdc_metadata_properties(self) -> bool:
        """On, whatever `add_record_metadata` says: with it off, the SDK strips
        `_sdc_deleted_at` from every record before `process_record`, and deletes are lost."""
        return True

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        self.check = RecordCheck(
            self.stream_name,
            self.original_schema,
            self.schema,
            self.key_properties,
            validate_schema=self.validate_schema,
        )
        return self.check

    def preprocess_record(self, record: dict, context: dict) -> dict:
        return {name: value for name, value in record.items() if name not in SDK_METADATA}

    def process_batch_files(self, encoding: Any, files: Sequence[str]) -> None:
        """BATCH messages are refused: singer-sdk would hand their records to
        `process_batch`, past validation and the mapping, and they would be dropped."""
        raise FatalError(
            f"stream '{self.stream_name}' sent a BATCH message ({len(files)} file(s)); "
            "target-intercom loads RECORD messages only: turn batch messages off in the tap "
            "(its batch_config setting)"
        )

    def record_key(self, record: dict[str, Any]) -> str:
        """How a message names a record: its key properties, else its place in the stream."""
        if self.key_properties:
            return ", ".join(f"{k}={record.get(k)!r}" for k in self.key_properties)
        return f"#{self.position} of the stream"

    def process_record(self, record: dict, context: dict) -> None:
        self.position += 1
        self.runtime.metrics.count_outcome(self.stream_name, "received")
        rejected = self.check.take_rejected()
        if rejected is not None:
            original, error = rejected
            self.reject(self.preprocess_record(original, context), error)
            return
        try:
            plan, work, settle = self.plan(record)
        except MappingError as exc:
            self.reject(record, exc)
            return
        for warning in plan.warnings:
            self.runtime.notices.warn_once(warning.key, warning.message)
        self.runtime.delivery.submit(
            self.stream_name,
            self.record_key(record),
            record,
            plan.ordering_keys,
            work,
            settle,
        )

    def reject(self, record: dict, error: RecordError) -> None:
        """A record that cannot even be mapped: dead-lettered under skip, else the run stops."""
        self.runtime.delivery.record_failed(
            self.stream_name, self.record_key(record), record, error
        )

    def plan(self, record: dict) -> tuple[Plan, Callable[[], str], Settle | None]:
        """The record's plan, the writing of it for the pool to run, and how to tell
        without a call that it needs no writing (see Delivery.submit)."""
        raise NotImplementedError


class UsersSink(IntercomSink):
    def plan(self, record: dict) -> tuple[Plan, Callable[[], str], Settle | None]:
        contact = map_contact(record, self.record_schema, self.runtime.contact_options)
        contacts = self.runtime.contacts
        return contact, partial(contacts.write, contact), partial(contacts.settled, contact)


class CompaniesSink(IntercomSink):
    def plan(self, record: dict) -> tuple[Plan, Callable[[], str], Settle | None]:
        company = map_company(record, self.record_schema, self.runtime.contact_options)
        companies = self.runtime.companies
        return company, partial(companies.write, company), partial(companies.settled, company)


class EventsSink(IntercomSink):
    def plan(self, record: dict) -> tuple[Plan, Callable[[], str], Settle | None]:
        event = map_event(record, self.record_schema, self.runtime.contact_options)
        return event, partial(self.runtime.events.write, event), None


SINKS: dict[str, type[IntercomSink]] = {
    "users": UsersSink,
    "contacts": UsersSink,
    "identifies": UsersSink,
    "companies": CompaniesSink,
    "groups": CompaniesSink,
    "events": EventsSink,
    "tracks": EventsSink,
}
