"""Record values as the JSON types Intercom takes: text, whole numbers, booleans, tag names.

Values arrive as singer-sdk's record loop hands them to a sink's `process_record`: JSON numbers
with a fraction or exponent are `Decimal` (the SDK reads them so; integers stay `int`), and
top-level properties whose schema says `format: date-time` / `date` / `time` are `datetime` /
`date` / `time`. Date strings nested inside objects, or in columns the schema does not mark,
are still text. A stream map's expression may produce a `float`; it is read from its shortest
decimal text, so money rounds the same on every path. Nothing that leaves this package is a
`Decimal` or a date object, so the payloads serialize with the standard `json` module, and
every record of a column sends the same type, so Intercom never sees an attribute change type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from target_intercom.errors import MappingError
from target_intercom.mapping.dates import to_unix_seconds
from target_intercom.mapping.messages import MappingWarning, describe_value

MAX_STRING_LENGTH = 255
"""Intercom's limit for custom attribute and event metadata strings."""

_INT32 = (-(2**31), 2**31 - 1)
_TRUE_TEXT = frozenset({"true", "t", "yes", "y", "1"})
_FALSE_TEXT = frozenset({"false", "f", "no", "n", "0"})


def to_text(value: Any, field: str) -> str:
    """A scalar as Intercom text: ids and numbers without a spurious `.0`, booleans lowercase."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (float, Decimal)) and not math.isfinite(value):
        # NaN and Infinity are JSON extensions some writers emit; as text ("nan") they
        # would become an id or a value nobody meant.
        raise MappingError(
            f"{field} is not a finite number ({describe_value(value)})", "bad_number"
        )
    if isinstance(value, (float, Decimal)) and value == int(value):
        return str(int(value))
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (Mapping, list)):
        raise MappingError(
            f"{field} must be a single value, not {describe_value(value)}: "
            "send a string or a number",
            "bad_value",
        )
    return str(value)


def to_decimal(value: Any, field: str) -> Decimal:
    """A finite number from a number or numeric text; booleans are not numbers."""
    if isinstance(value, float):
        value = repr(value)  # 2.675 is "2.675", not the binary 2.67499999...
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (ArithmeticError, TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not number.is_finite():
        raise MappingError(f"{field} is not a number ({describe_value(value)})", "bad_number")
    return number


def round_half_up(number: Decimal) -> int:
    """The nearest whole number, halves away from zero, as people round money."""
    return int(number.to_integral_value(ROUND_HALF_UP))


def to_int(value: Any, field: str) -> int:
    """A whole number (rounded half up) within Intercom's 32-bit integer range."""
    whole = round_half_up(to_decimal(value, field))
    if not _INT32[0] <= whole <= _INT32[1]:
        raise MappingError(
            f"{field} is {whole}, beyond Intercom's integer limit of {_INT32[1]}", "bad_number"
        )
    return whole


def to_bool(value: Any, field: str) -> bool:
    """A boolean from a boolean, 0/1, or text such as true/false/yes/no."""
    if isinstance(value, bool):
        return value
    text = to_text(value, field).strip().lower() if isinstance(value, (str, int)) else None
    if text in _TRUE_TEXT:
        return True
    if text in _FALSE_TEXT:
        return False
    raise MappingError(
        f"{field} is not a boolean ({describe_value(value)}): send true or false", "bad_boolean"
    )


def tag_names(value: Any) -> list[str]:
    """Tag names from a list of strings: stripped, blanks skipped, duplicates dropped, in order."""
    if value is None:
        return []
    if not isinstance(value, list) or any(isinstance(item, (Mapping, list)) for item in value):
        raise MappingError(
            f"tags must be a list of tag names, not {describe_value(value)}", "bad_tags"
        )
    names = (to_text(item, "tags").strip() for item in value if item is not None)
    return list(dict.fromkeys(name for name in names if name))


def coerce_value(value: Any, data_type: str, field: str) -> Any:
    """A scalar in the JSON form of Intercom `data_type`, so every record sends the same type."""
    if data_type == "date":
        return to_unix_seconds(value, field)
    if data_type == "string":
        return to_text(value, field)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return value
    if not math.isfinite(value):
        raise MappingError(
            f"{field} is not a finite number ({describe_value(value)})", "bad_number"
        )
    if data_type == "integer" and value == int(value):
        return int(value)
    return float(value) if data_type == "float" or isinstance(value, Decimal) else value


def truncate(value: Any, warning_key: str, label: str) -> tuple[Any, list[MappingWarning]]:
    """Cut a string to Intercom's 255 characters, with a warning; other values pass."""
    if not isinstance(value, str) or len(value) <= MAX_STRING_LENGTH:
        return value, []
    message = f"{label} is longer than {MAX_STRING_LENGTH} characters and was cut to fit Intercom"
    return value[:MAX_STRING_LENGTH], [MappingWarning(warning_key, message)]
