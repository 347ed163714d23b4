"""The names of the things a record touches, formed in one place.

The same strings serve two purposes that must agree: the delivery pool orders records
that share one (an update never overtakes its create), and the sync store files
Intercom's ids under them (a contact met by email is found again by email). Emails
compare case-insensitively, as Intercom compares them.
"""

from __future__ import annotations


def contact_by_external_id(external_id: str) -> str:
    """A contact as a record with an external_id names it: that contact and no other."""
    return f"contact:external_id:{external_id}"


def contact_by_email(email: str) -> str:
    """A contact as a record with only an email names it; emails compare case-insensitively."""
    return f"contact:email:{email.lower()}"


def contact_by_phone(phone: str) -> str:
    """A contact as a record names it by phone, with `lookup_fields` listing phone: it
    orders a group call that attaches the contact by phone after the contact's identify,
    and files the contact this target last wrote with that phone."""
    return f"contact:phone:{phone}"


def contact(external_id: str | None, email: str | None) -> tuple[str, ...]:
    """Every key of a contact known by `external_id` and/or `email`, external_id first."""
    keys: list[str] = []
    if external_id is not None:
        keys.append(contact_by_external_id(external_id))
    if email is not None:
        keys.append(contact_by_email(email))
    return tuple(keys)


def company(company_id: str) -> str:
    """A company, by the company_id records name it with."""
    return f"company:{company_id}"


def custom_object(type_name: str, external_id: str) -> str:
    """A custom object instance, by its type and the external id records name it with."""
    return f"custom_object:{type_name}:{external_id}"


def custom_object_references(attribute: str, contact_id: str) -> str:
    """The instances a contact's reference attribute holds, by the contact's Intercom id."""
    return f"custom_object_references:{attribute}:{contact_id}"


# What a deferred rest waits for (errors.Deferred): no record holds it; delivery takes
# such rests back together (delivery/pool.py says when).
DEFERRED = "deferred"


# Marks a key held shared: the delivery ledger lets records that hold one key shared run
# side by side, and orders them against the records that hold it outright.
SHARED = "shared:"


def shared(key: str) -> str:
    """The key, held shared: records holding it shared may run side by side."""
    return SHARED + key
