"""The sink: maps each record to a plan and hands the plan to delivery.

singer-sdk's record loop calls `process_record` on the main thread, in input order, after
its own validation (through `get_validator`, see record_check.py), date parsing and
`preprocess_record`; nothing here waits for Intercom. One sink class serves every kind of
record: the kind's mapping is found by stream name (kinds.py), and what goes to delivery
is data (the record and its plan), never a closure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from singer_sdk.sinks import RecordSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

from target_intercom.delivery import Delivery
from target_intercom.errors import FatalError, MappingError, RecordError
from target_intercom.kinds import Kinds, Mapper
from target_intercom.mapping import ContactOptions, RecordSchema
from target_intercom.metrics import Metrics
from target_intercom.notices import Notices
from target_intercom.record_check import SDK_METADATA, RecordCheck


@dataclass(frozen=True)
class Intake:
    """What a sink uses of the run, and nothing more: the target holds one as `intake`."""

    kinds: Kinds
    options: ContactOptions
    delivery: Delivery
    metrics: Metrics
    notices: Notices


def intake_of(target: object) -> Intake:
    """The run's intake, from the target singer-sdk gives the sink."""
    intake = getattr(target, "intake", None)
    if not isinstance(intake, Intake):
        raise TypeError(f"{type(target).__name__} has no intake for its sinks")
    return intake


class DroppedSink(RecordSink):
    """A stream that stream_maps drop: singer-sdk makes a sink for it, then filters out
    each of its records before any sink sees them."""

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Never called by singer-sdk; a record here would be a change in the SDK."""
        raise FatalError(
            f"stream '{self.stream_name}' is dropped by stream_maps, yet singer-sdk handed "
            "it a record"
        )


class IntercomSink(RecordSink):
    """Any stream of a registered kind: the digested schema, the kind's mapping, record keys."""

    def __init__(
        self, target: Any, stream_name: str, schema: dict[str, Any], key_properties: Any
    ) -> None:
        self.intake = intake_of(target)
        self.map: Mapper = self.intake.kinds.mapper(stream_name)
        super().__init__(target, stream_name, schema, key_properties)
        self.record_schema = RecordSchema(self.schema)
        self.options = replace(
            self.intake.options.for_stream((stream_name, *_sent_here(target, stream_name))),
            key_properties=tuple(self.key_properties or ()),
        )
        self.position = 0  # the record's place in its stream, for messages about it

    @property
    def include_sdc_metadata_properties(self) -> bool:
        """On, whatever `add_record_metadata` says: with it off, the SDK strips
        `_sdc_deleted_at` from every record before `process_record`, and deletes are lost."""
        return True

    def _add_sdc_metadata_to_record(
        self, record: dict[str, Any], message: dict[str, Any], context: dict[str, Any]
    ) -> None:
        # Private override: singer-sdk fills seven bookkeeping columns per record (two
        # clock reads and three date strings it then parses again), and `preprocess_record`
        # drops six of them unread. Only the delete marker is set, as the SDK sets it.
        # Removable if singer-sdk lets a target keep `_sdc_deleted_at` with metadata off.
        record["_sdc_deleted_at"] = record.get("_sdc_deleted_at")

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """The record check: a record that fails validation costs itself, not the run."""
        self.check = RecordCheck(
            self.stream_name,
            self.original_schema,
            self.schema,
            self.key_properties,
            validate_schema=self.validate_schema,
        )
        return self.check

    def preprocess_record(self, record: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        """Drops the SDK's metadata columns: not the tap's data, never sent to Intercom."""
        if SDK_METADATA.isdisjoint(record):
            return record  # the usual case, since only _sdc_deleted_at is added
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

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Maps the record and hands its plan to delivery; never waits for Intercom."""
        self.position += 1
        intake = self.intake
        intake.metrics.count_outcome(self.stream_name, "received")
        rejected = self.check.take_rejected()
        if rejected is not None:
            original, error = rejected
            self.reject(self.preprocess_record(original, context), error)
            return
        try:
            plan = self.map(record, self.record_schema, self.options)
        except MappingError as exc:
            self.reject(record, exc)
            return
        for warning in plan.warnings:
            intake.notices.warn_once(warning.key, warning.message)
        intake.delivery.submit(self.stream_name, self.record_key(record), record, plan)

    def reject(self, record: dict[str, Any], error: RecordError) -> None:
        """A record that cannot even be mapped: dead-lettered under skip, else the run stops."""
        self.intake.delivery.record_failed(self.stream_name, self.record_key(record), record, error)


def _sent_here(target: Any, stream_name: str) -> list[str]:
    """The tap's streams that stream_maps send to this stream (itself, unless renamed)."""
    maps = target.mapper.stream_maps.items()
    return [tap for tap, ms in maps if any(m.stream_alias == stream_name for m in ms)]
