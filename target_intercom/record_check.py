"""Which records a sink takes, decided where singer-sdk asks: the sink's validator.

singer-sdk's record loop validates each record with the validator that a sink's
`get_validator()` returns, then parses its date-like properties, then checks its key
properties, and ends the run on any of the three. For Intercom one bad row should cost
that row only (dead-lettered under `on_record_error: skip`, one clear line under `fail`),
and a bad date must not end the run with a traceback. So this validator checks the schema
and the dates up front. A record that fails is not raised to the SDK: it is kept aside,
with its reason, for the sink's `process_record` to reject, and the SDK is handed an empty
record that none of its later steps can trip on.

A key property the record lacks is taken as null: Intercom knows a contact by its
external_id or email, whatever the tap's key, and the mapping names what is missing when
neither is there.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from singer_sdk.exceptions import InvalidJSONSchema, InvalidRecord
from singer_sdk.helpers._typing import get_datelike_property_type
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator

from target_intercom.errors import FatalError, MappingError, RecordError
from target_intercom.mapping.dates import parse_date, to_unix_seconds
from target_intercom.plain_schema import PlainSchema

# Bookkeeping columns singer-sdk adds to every record when metadata is on; only the
# delete marker among them means anything to Intercom.
SDK_METADATA = frozenset(
    {
        "_sdc_extracted_at",
        "_sdc_received_at",
        "_sdc_batched_at",
        "_sdc_sequence",
        "_sdc_table_version",
        "_sdc_sync_started_at",
    }
)


class RecordCheck(BaseJSONSchemaValidator):
    """`tap_schema` is the stream's schema as the tap sent it, which records are validated
    against without the SDK's bookkeeping columns (checking those seven columns on every
    record would double the cost of validation); `schema` is the sink's, whose date-like
    properties the SDK parses. A tap schema that only types its columns passes most
    records with one type test per column (plain_schema.py), and jsonschema decides the
    rest."""

    def __init__(
        self,
        stream_name: str,
        tap_schema: dict[str, Any],
        schema: dict[str, Any],
        key_properties: Sequence[str],
        *,
        validate_schema: bool,
    ) -> None:
        super().__init__(schema)
        try:
            self._schema = JSONSchemaValidator(tap_schema) if validate_schema else None
            self._plain = PlainSchema.of(tap_schema) if validate_schema else None
        except InvalidJSONSchema as exc:
            raise FatalError(
                f"the SCHEMA of stream '{stream_name}' is not valid JSON Schema: "
                f"{str(exc).splitlines()[0]}"
            ) from None
        self._key_properties = tuple(key_properties)
        self._dates: dict[str, str] = {}
        for name, prop in (schema.get("properties") or {}).items():
            kind = get_datelike_property_type(prop) if isinstance(prop, dict) else None
            if kind is not None:
                self._dates[name] = kind
        self._date_times = tuple(name for name, kind in self._dates.items() if kind == "date-time")
        self._rejected: tuple[dict[str, Any], RecordError] | None = None

    def validate(self, record: dict[str, Any]) -> None:
        """Sets a record that fails its schema aside as its own error, not the run's."""
        self._rewrite_javascript_dates(record)
        error = self._problem(record)
        if error is not None:
            self._rejected = (copy.deepcopy(record), error)
            record.clear()
        for name in self._key_properties:
            record.setdefault(name, None)

    def _rewrite_javascript_dates(self, record: dict[str, Any]) -> None:
        """A JavaScript date text in a date-time column (`Mon May 19 2019 18:34:24 GMT+0000
        (UTC)`, as Segment's and RudderStack's sources send) becomes the ISO-8601 text the
        SDK parses; anything else is left for the check below to judge."""
        for name in self._date_times:
            value = record.get(name)
            if not isinstance(value, str) or "GMT" not in value:
                continue
            try:
                seconds = to_unix_seconds(value, name)
            except MappingError:
                continue
            record[name] = datetime.fromtimestamp(seconds, timezone.utc).isoformat()

    def take_rejected(self) -> tuple[dict[str, Any], RecordError] | None:
        """The record the last `validate` refused, as it arrived, and why; once."""
        rejected, self._rejected = self._rejected, None
        return rejected

    def _problem(self, record: dict[str, Any]) -> RecordError | None:
        if self._schema is not None and not (
            self._plain is not None and self._plain.surely_valid(record, SDK_METADATA)
        ):
            try:
                self._schema.validate({k: v for k, v in record.items() if k not in SDK_METADATA})
            except InvalidRecord as exc:
                return RecordError(
                    f"does not match the stream's schema: {exc.error_message}",
                    "schema_violation",
                )
        for name, kind in self._dates.items():
            value = record.get(name)
            if value is None:
                continue
            try:
                parse_date(value, kind)
            except (ValueError, TypeError):
                return RecordError(
                    f"{name} is not a {kind} ({str(value)[:40]!r}): the stream's schema says "
                    f"format {kind}; send ISO-8601 text",
                    "bad_date",
                )
        return None
