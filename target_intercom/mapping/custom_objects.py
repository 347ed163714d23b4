"""A row of a `custom_objects` stream as one Intercom custom object instance, and its contact.

Intercom's 2.16 `POST /custom_object_instances/{type}` creates or updates an instance by
its `external_id` and takes `external_created_at`, `external_updated_at` (Unix seconds)
and `custom_attributes` whose values are strings only (the description's
`create_or_update_custom_object_instance_request`), so every other column is sent as
text: numbers without a spurious `.0`, booleans as "true"/"false", dates as ISO-8601,
objects and lists as compact JSON. A null column is left out: the API has no way to
clear a value with a string.

The instance's external id is the `external_id` column, else the stream's key (one
column; a key of several is joined with ":"). Its contact is named as an event names it,
by the `user_id` (or `userId`) column, else `email`; the `external_id` column is the
instance's, never the contact's. A tap's `_sdc_` columns are never sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import Any, Literal

from target_intercom import keys
from target_intercom.errors import MappingError
from target_intercom.mapping.dates import to_unix_seconds
from target_intercom.mapping.fields import first_item
from target_intercom.mapping.messages import MappingWarning, describe_value
from target_intercom.mapping.options import ContactOptions
from target_intercom.mapping.schema import RecordSchema
from target_intercom.mapping.values import to_text

EXTERNAL_ID_COLUMN = "external_id"
USER_ID_COLUMNS = ("user_id", "userId")
EMAIL_COLUMN = "email"
TIME_COLUMNS = ("external_created_at", "external_updated_at")
PIPELINE = "_sdc_"  # a tap's bookkeeping columns (_sdc_deleted_at, _sdc_lsn): never sent
# What a row with `_sdc_deleted_at` does: its instance leaves its contact's list, is also
# deleted, or nothing.
DeletedRows = Literal["unlink", "delete", "ignore"]


@dataclass(frozen=True)
class CustomObjectPlan:
    """One instance's upsert, and the contact whose reference attribute gains it."""

    type_name: str
    body: dict[str, Any]
    reference_attribute: str | None
    user_id: str | None
    email: str | None
    warnings: list[MappingWarning]
    # A row the tap marks deleted (`_sdc_deleted_at`), and what that does (see the writer).
    deleted: bool = False
    deleted_rows: DeletedRows = "unlink"

    @property
    def external_id(self) -> str:
        """As the store and the ordering keys name the instance."""
        return str(self.body["external_id"])

    @property
    def names_contact(self) -> bool:
        """Whether the row names a contact whose reference attribute it goes into."""
        return self.reference_attribute is not None and (
            self.user_id is not None or self.email is not None
        )

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        """The instance (two rows of it in order), and its contact, held shared: the
        contact's upsert lands first, and rows of one contact run side by side (their
        writer lets one write of its reference list take all of them)."""
        own = keys.custom_object(self.type_name, self.external_id)
        if not self.names_contact:
            return (own,)
        return (own, *(keys.shared(k) for k in keys.contact(self.user_id, self.email)))


@dataclass(frozen=True)
class CustomObjectStream:
    """A stream the `custom_objects` setting names: its type, reference attribute and
    what its deleted rows do."""

    type_name: str
    reference_attribute: str | None = None
    deleted_rows: DeletedRows = "unlink"

    def map(
        self, record: Mapping[str, Any], schema: RecordSchema, options: ContactOptions
    ) -> CustomObjectPlan:
        """The row's plan; MappingError when it has no external id."""
        external_id, id_columns = _external_id(record, options.key_properties)
        body: dict[str, Any] = {"external_id": external_id}
        for column in TIME_COLUMNS:
            value = record.get(column)
            if value is not None and value != "":
                body[column] = to_unix_seconds(value, column)
        user_id = first_item(record, *USER_ID_COLUMNS)
        email = first_item(record, EMAIL_COLUMN)
        consumed = {*id_columns, *TIME_COLUMNS, *USER_ID_COLUMNS, EMAIL_COLUMN}
        body["custom_attributes"] = {
            name: as_text(value, name)
            for name, value in record.items()
            if name not in consumed and value is not None and not name.startswith(PIPELINE)
        }
        return CustomObjectPlan(
            type_name=self.type_name,
            body=body,
            reference_attribute=self.reference_attribute,
            user_id=None if user_id is None else to_text(user_id[1], user_id[0]),
            email=None if email is None else to_text(email[1], EMAIL_COLUMN).strip() or None,
            warnings=[],
            deleted=record.get("_sdc_deleted_at") not in (None, ""),
            deleted_rows=self.deleted_rows,
        )


def _external_id(
    record: Mapping[str, Any], key_properties: tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """The instance's external id, and the columns it was read from (not attributes)."""
    item = first_item(record, EXTERNAL_ID_COLUMN)
    if item is not None:
        return to_text(item[1], EXTERNAL_ID_COLUMN), (EXTERNAL_ID_COLUMN,)
    parts = [record.get(name) for name in key_properties]
    if key_properties and all(p is not None and p != "" for p in parts):
        text = ":".join(to_text(p, name) for p, name in zip(parts, key_properties, strict=True))
        return text, (EXTERNAL_ID_COLUMN, *key_properties)
    looked = ", ".join([EXTERNAL_ID_COLUMN, *key_properties])
    raise MappingError(
        f"Custom object record has no external id (looked in {looked}): add an "
        "external_id column or give the stream a key",
        "no_external_id",
    )


def as_text(value: Any, name: str) -> str:
    """A column's value as the string Intercom takes for a custom object attribute."""
    if isinstance(value, (date, time)):  # a datetime is a date too
        return value.isoformat()
    if isinstance(value, (Mapping, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    if isinstance(value, (str, bool, int, float, Decimal)):
        return to_text(value, name)
    raise MappingError(f"{name} cannot be sent as text ({describe_value(value)})", "bad_value")
