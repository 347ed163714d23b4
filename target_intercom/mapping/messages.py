"""What the mapping tells the operator: warnings about a record, and bad values in messages.

The mapping is pure (no I/O, no logging), so what the operator should hear about a record
that still goes out travels in its plan as a `MappingWarning`, for the sink to log; a record
that cannot go out at all raises `MappingError` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MappingWarning:
    """Something the operator should know about a mapped record, logged once per `key`."""

    key: str
    message: str


def describe_value(value: Any) -> str:
    """A short description of a bad value for an error message (never a whole record)."""
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"
