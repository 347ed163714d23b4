"""A fingerprint is kept in the sync store across runs and versions: its value for a given
record must never change, or every stored row would stop matching and a re-sync would send
everything again."""

from __future__ import annotations

import datetime
from decimal import Decimal

from target_intercom.writers.known import fingerprint


def test_a_fingerprint_is_the_same_as_in_earlier_versions() -> None:
    fields = {"external_id": "u1", "email": "a@b.example", "name": "Ünïcode", "role": "user"}
    attributes = {
        "plan": "pro",
        "seats": 3,
        "score": Decimal("1.5"),
        "when": datetime.date(2024, 1, 2),
    }
    # The value earlier versions stored for this record.
    assert fingerprint(fields, attributes) == -2636007139378076470
    # Key order is not part of what was written.
    assert fingerprint(dict(reversed(fields.items())), attributes) == -2636007139378076470
