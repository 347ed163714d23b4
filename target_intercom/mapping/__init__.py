"""Singer records to Intercom payloads, as pure functions: no I/O, no HTTP, no logging."""

from __future__ import annotations

from target_intercom.mapping.common import (
    MappingWarning,
    RecordSchema,
    custom_attributes,
    first_value,
    flatten,
    to_unix_seconds,
)
from target_intercom.mapping.companies import CompanyPlan, map_company
from target_intercom.mapping.contacts import CompanyLink, ContactOptions, ContactPlan, map_contact
from target_intercom.mapping.events import EventPlan, map_event

__all__ = [
    "CompanyLink",
    "CompanyPlan",
    "ContactOptions",
    "ContactPlan",
    "EventPlan",
    "MappingWarning",
    "RecordSchema",
    "custom_attributes",
    "first_value",
    "flatten",
    "map_company",
    "map_contact",
    "map_event",
    "to_unix_seconds",
]
