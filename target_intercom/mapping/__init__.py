"""Singer records to Intercom payloads, as pure functions: no I/O, no HTTP, no logging.

Each record is mapped once, into a complete plan, before anything is sent: the sink logs the
plan's warnings and the writers carry it out. Keeping the mapping pure keeps what a record
means in one place, testable without Intercom.
"""

from __future__ import annotations

from target_intercom.mapping.attributes import custom_attributes
from target_intercom.mapping.companies import CompanyPlan, map_company
from target_intercom.mapping.company_links import CompanyLink
from target_intercom.mapping.contacts import ContactOptions, ContactPlan, map_contact
from target_intercom.mapping.custom_objects import CustomObjectPlan, CustomObjectStream
from target_intercom.mapping.dates import to_unix_seconds
from target_intercom.mapping.events import EventPlan, map_event
from target_intercom.mapping.fields import first_value, flatten
from target_intercom.mapping.messages import MappingWarning
from target_intercom.mapping.schema import RecordSchema

__all__ = [
    "CompanyLink",
    "CompanyPlan",
    "ContactOptions",
    "ContactPlan",
    "CustomObjectPlan",
    "CustomObjectStream",
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
