"""The names of the things a record touches, formed in one place.

The same strings serve two purposes that must agree: the delivery pool orders records
that share one (an update never overtakes its create), and the writers' id cache files
Intercom's ids under them (a contact met by email is found again by email). Emails
compare case-insensitively, as Intercom compares them.
"""

from __future__ import annotations


def contact_by_external_id(external_id: str) -> str:
    return f"contact:external_id:{external_id}"


def contact_by_email(email: str) -> str:
    return f"contact:email:{email.lower()}"


def contact(external_id: str | None, email: str | None) -> tuple[str, ...]:
    """Every key of a contact known by `external_id` and/or `email`, external_id first."""
    keys: list[str] = []
    if external_id is not None:
        keys.append(contact_by_external_id(external_id))
    if email is not None:
        keys.append(contact_by_email(email))
    return tuple(keys)


def contact_holding_email(email: str) -> str:
    """Where the run notes which contact it wrote an email to, for look-ups by email that
    are not an identity (a company listing its users by email)."""
    return f"contact:holding-email:{email.lower()}"


def contact_written(intercom_id: str) -> str:
    """Where the fingerprint of what was last written to a contact is kept."""
    return f"contact:written:{intercom_id}"


def company(company_id: str) -> str:
    return f"company:{company_id}"


# Marks a key held shared: the delivery ledger lets records that hold one key shared run
# side by side, and orders them against the records that hold it outright.
SHARED = "shared:"


def shared(key: str) -> str:
    return SHARED + key
