"""Turning what singer-sdk reads back into JSON, the same way everywhere.

The SDK reads numbers with a fraction as `Decimal` and date-like properties as date
objects; a list sent as text, a dead letter and a STATE must carry them as the tap wrote
them: numbers as JSON numbers, dates as ISO-8601 text.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Any


def json_default(value: Any) -> Any:
    """`default=` for `json.dumps`: Decimals as numbers, dates as ISO-8601, the rest as text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)
