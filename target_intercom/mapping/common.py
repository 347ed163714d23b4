"""Pieces shared by the contact, company and event mappings.

Everything here is pure (no I/O, no logging): the mapping runs once per record and returns a
complete plan; the sink logs its warnings and the writers carry it out. A record that cannot
be mapped raises `MappingError`; something the operator should hear about, but that does not
stop the record, comes back as a `MappingWarning`.

Values arrive as singer-sdk's record loop hands them to a sink's `process_record`: JSON numbers
with a fraction or exponent are `Decimal` (the SDK reads them so; integers stay `int`), and
top-level properties whose schema says `format: date-time` / `date` / `time` are `datetime` /
`date` / `time`. Date strings nested inside objects, or in columns the schema does not mark,
are still text. A stream map's expression may produce a `float`; it is read from its shortest
decimal text, so money rounds the same on every path. Nothing that leaves this package is a
`Decimal` or a date object, so the payloads serialize with the standard `json` module.
"""

from __future__ import annotations

import calendar
import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pendulum

from target_intercom.errors import MappingError
from target_intercom.jsonvalues import json_default

MAX_STRING_LENGTH = 255
"""Intercom's limit for custom attribute and event metadata strings."""

SDC_PREFIX = "_sdc_"
"""Singer metadata columns: bookkeeping of the pipeline, never Intercom data."""

_MILLISECONDS_FROM = 1e11
"""Epoch numbers this large are milliseconds: as seconds they would be after the year 5138."""

_INT32 = (-(2**31), 2**31 - 1)
_NUMERIC_TEXT = re.compile(r"[+-]?\d+(\.\d+)?")
_TRUE_TEXT = frozenset({"true", "t", "yes", "y", "1"})
_FALSE_TEXT = frozenset({"false", "f", "no", "n", "0"})
_JSON_TYPES = {
    "integer": "integer",
    "number": "float",
    "boolean": "boolean",
    "string": "string",
    "array": "string",
}
_DATE_FORMATS = frozenset({"date-time", "date"})
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# What JavaScript's `String(new Date())` writes, as Segment's and RudderStack's test data
# and JavaScript sources send dates: "Mon May 19 2019 18:34:24 GMT+0000 (UTC)". The zone's
# name in parentheses is optional (and free text: the offset before it is what counts).
_JS_DATE = re.compile(
    rf"({'|'.join(_WEEKDAYS)}) ({'|'.join(_MONTHS)}) (\d{{1,2}}) (\d{{4}}) "
    r"(\d{2}):(\d{2}):(\d{2}) GMT([+-])(\d{2})(\d{2})(?: \([^()]*\))?"
)


@dataclass(frozen=True)
class MappingWarning:
    """Something the operator should know about a mapped record, logged once per `key`."""

    key: str
    message: str


class RecordSchema:
    """A stream's JSON schema, digested once per stream so that mapping a record stays cheap.

    `types` maps each flattened attribute name (nested objects joined with `_`, as
    `custom_attributes` sends them) to the Intercom data_type that `unknown_attributes: create`
    gives the attribute. Names the schema does not type (no `type`, free-form objects) are
    absent; `data_type` then infers the type from the value.
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._properties: Mapping[str, Any] = schema.get("properties") or {}
        self.types: dict[str, str] = _data_types(self._properties, "")
        self._children: dict[str, RecordSchema] = {}

    def child(self, name: str) -> RecordSchema:
        """The schema of object property `name`, or of its items when it is an array of objects."""
        if name not in self._children:
            self._children[name] = RecordSchema(_object_schema(self._properties.get(name)))
        return self._children[name]

    def data_type(self, name: str, value: Any) -> str:
        """The Intercom data_type of attribute `name`: from the schema, else from the value."""
        known = self.types.get(name)
        return known if known is not None else _infer_data_type(value)

    def declares(self, name: str) -> bool:
        """Whether the stream's schema has a top-level property `name` (a column the
        table has, even when this record leaves it out)."""
        return name in self._properties


def _resolve(prop: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    """The non-null JSON type a property holds, and the (sub)schema that declares it."""
    for combinator in ("anyOf", "oneOf"):
        if combinator in prop:
            for option in prop[combinator]:
                kind, sub = _resolve(option)
                if kind not in (None, "null"):
                    return kind, sub
            return None, prop
    declared = prop.get("type")
    if isinstance(declared, list):
        declared = next((kind for kind in declared if kind != "null"), None)
    if declared is None and "properties" in prop:
        declared = "object"
    return declared, prop


def _data_types(properties: Mapping[str, Any], prefix: str) -> dict[str, str]:
    types: dict[str, str] = {}
    for name, prop in properties.items():
        full_name = f"{prefix}_{name}" if prefix else name
        if not isinstance(prop, Mapping) or full_name.startswith(SDC_PREFIX):
            continue
        kind, sub = _resolve(prop)
        if kind == "object":
            types.update(_data_types(sub.get("properties") or {}, full_name))
        elif kind == "string" and sub.get("format") in _DATE_FORMATS:
            types[full_name] = "date"
        elif kind in _JSON_TYPES:
            types[full_name] = _JSON_TYPES[kind]
    return types


def _object_schema(prop: Any) -> Mapping[str, Any]:
    if not isinstance(prop, Mapping):
        return {}
    kind, sub = _resolve(prop)
    if kind == "array":
        items = sub.get("items")
        kind, sub = _resolve(items) if isinstance(items, Mapping) else (None, {})
    return sub if kind == "object" else {}


def _infer_data_type(value: Any) -> str:
    """The Intercom data_type for a value the schema does not type."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "float"
    if isinstance(value, date):
        return "date"
    return "string"


def first_item(record: Mapping[str, Any], *names: str) -> tuple[str, Any] | None:
    """The first `(name, value)` whose value is neither None nor "": aliases in priority order."""
    for name in names:
        value = record.get(name)
        if value is not None and value != "":
            return name, value
    return None


def pick_fields(
    record: Mapping[str, Any],
    sources: Mapping[str, tuple[str, ...]],
    convert: Callable[[Any, str], Any],
) -> dict[str, Any]:
    """Standard fields from their aliases: the first non-empty alias wins and is converted,
    so that a bad value's error names the column the user actually has."""
    fields: dict[str, Any] = {}
    for field, names in sources.items():
        item = first_item(record, *names)
        if item is not None:
            fields[field] = convert(item[1], item[0])
    return fields


def first_value(record: Mapping[str, Any], *names: str) -> Any | None:
    """The value of the first of `names` that is neither None nor ""."""
    item = first_item(record, *names)
    return item[1] if item else None


def describe_value(value: Any) -> str:
    """A short description of a bad value for an error message (never a whole record)."""
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def to_unix_seconds(value: Any, field: str) -> int:
    """Integer Unix seconds, the only date Intercom takes.

    Accepts datetimes and dates (naive ones are UTC), ISO-8601 strings, JavaScript date texts
    (`Mon May 19 2019 18:34:24 GMT+0000 (UTC)`), and epoch seconds or milliseconds as numbers
    or numeric strings (absolute value >= 1e11 means milliseconds).
    Time-only strings and durations are refused rather than completed with today's date.
    """
    if isinstance(value, date):
        return _date_seconds(value)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return _epoch_seconds(value, field)
    if isinstance(value, str):
        return _text_seconds(value.strip(), field)
    raise _bad_date(value, field)


def _date_seconds(value: date) -> int:
    if isinstance(value, datetime):
        return calendar.timegm(value.utctimetuple())  # naive: taken as UTC
    return calendar.timegm(value.timetuple())


def _epoch_seconds(number: float | Decimal, field: str) -> int:
    try:
        milliseconds = number >= _MILLISECONDS_FROM or number <= -_MILLISECONDS_FROM
        return math.floor(number / 1000 if milliseconds else number)
    except (ArithmeticError, ValueError):
        raise _bad_date(number, field) from None


def _text_seconds(text: str, field: str) -> int:
    if _NUMERIC_TEXT.fullmatch(text):
        return _epoch_seconds(Decimal(text), field)
    javascript = _JS_DATE.fullmatch(text)
    if javascript:
        return _javascript_seconds(javascript, text, field)
    try:
        parsed = pendulum.parse(text, exact=True)
    except (ValueError, TypeError, OverflowError):
        raise _bad_date(text, field) from None
    if not isinstance(parsed, date):
        raise _bad_date(text, field)
    return _date_seconds(parsed)


def _javascript_seconds(match: re.Match[str], text: str, field: str) -> int:
    """A JavaScript `Date.prototype.toString()` text. Its weekday is not checked, as
    JavaScript's own parser does not check it (hand-written test data often has it wrong:
    "Mon May 19 2019" was a Sunday); a date that does not exist is refused."""
    _weekday, month, day, year, hour, minute, second, sign, zone_h, zone_m = match.groups()
    try:
        offset = timedelta(hours=int(zone_h), minutes=int(zone_m))
        moment = datetime(
            int(year),
            _MONTHS.index(month) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone(-offset if sign == "-" else offset),
        )
    except ValueError:
        raise _bad_date(text, field) from None
    return _date_seconds(moment)


def _bad_date(value: Any, field: str) -> MappingError:
    return MappingError(
        f"{field} is not a date ({describe_value(value)}): send an ISO-8601 date or date-time, "
        "a JavaScript date text (Mon May 19 2019 18:34:24 GMT+0000), "
        "or Unix epoch seconds or milliseconds",
        "bad_date",
    )


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


def flatten(
    obj: Mapping[str, Any],
    prefix: str = "",
    keep: Callable[[Mapping[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """Nested objects as `_`-joined keys (`{"address": {"city": "X"}}` -> `address_city`).

    Intercom takes no nested values. `keep` names objects that Intercom does take whole (event
    rich links and amounts); they stay objects under their flattened key.
    """
    flat: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}_{key}" if prefix else str(key)
        if isinstance(value, Mapping) and not (keep and keep(value)):
            flat.update(flatten(value, name, keep))
        else:
            flat[name] = value
    return flat


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


def _list_text(items: list[Any], field: str) -> str:
    """A list as one string: `a, b, c` for scalars, compact JSON when it holds objects."""
    if any(isinstance(item, (Mapping, list)) for item in items):
        return json.dumps(items, separators=(",", ":"), ensure_ascii=False, default=json_default)
    return ", ".join(to_text(item, field) for item in items if item is not None)


def truncate(value: Any, warning_key: str, label: str) -> tuple[Any, list[MappingWarning]]:
    """Cut a string to Intercom's 255 characters, with a warning; other values pass."""
    if not isinstance(value, str) or len(value) <= MAX_STRING_LENGTH:
        return value, []
    message = f"{label} is longer than {MAX_STRING_LENGTH} characters and was cut to fit Intercom"
    return value[:MAX_STRING_LENGTH], [MappingWarning(warning_key, message)]


def custom_attributes(
    values: Mapping[str, Any], schema: RecordSchema, kind: str
) -> tuple[dict[str, Any], dict[str, str], list[MappingWarning]]:
    """Intercom `custom_attributes` for `kind` ("contact" or "company") from a record's fields,
    with the Intercom data_type of each (what `unknown_attributes: create` creates it as).

    The type is settled here, from this record's own schema, so that a writer never has to
    guess which schema an attribute came from.

    None values are left out, not sent as null: a NULL column never clears a value already in
    Intercom, so a sparse row cannot wipe what another source set. `_sdc_*` columns are left
    out. Lists become text (Intercom rejects lists) and long strings are cut; each warns once
    per attribute name.
    """
    attributes: dict[str, Any] = {}
    types: dict[str, str] = {}
    warnings: list[MappingWarning] = []
    for column, value in flatten(values).items():
        if value is None or column.startswith(SDC_PREFIX):
            continue
        data_type = "string" if isinstance(value, list) else schema.data_type(column, value)
        name = attribute_name(column)
        if name != column:
            warnings.append(
                MappingWarning(
                    f"renamed:{kind}:{column}",
                    f"Column {column!r} is sent as {kind} attribute {name!r}: Intercom "
                    "takes only letters, digits, currency symbols, hyphens and underscores "
                    "in attribute names",
                )
            )
        if name in attributes:
            warnings.append(
                MappingWarning(
                    f"collision:{kind}:{column}",
                    f"Column {column!r} is not sent: another column of the record is "
                    f"already sent as {kind} attribute {name!r}; rename one (stream_maps)",
                )
            )
            continue
        attributes[name], value_warnings = _attribute_value(name, value, data_type, kind)
        types[name] = data_type
        warnings.extend(value_warnings)
    return attributes, types, warnings


def attribute_name(column: str) -> str:
    """The column's name as Intercom accepts it for an attribute: every other character
    (`.`, `:`, spaces, `$`, ...) becomes `_`."""
    return "".join(char if _allowed_in_name(char) else "_" for char in column)


def _allowed_in_name(char: str) -> bool:
    # `$` is a currency symbol, but Intercom documents it as refused.
    return char.isalnum() or char in "-_" or (char != "$" and unicodedata.category(char) == "Sc")


def _attribute_value(
    name: str, value: Any, data_type: str, kind: str
) -> tuple[Any, list[MappingWarning]]:
    label = f"{kind.capitalize()} attribute {name!r}"
    warnings: list[MappingWarning] = []
    if isinstance(value, list):
        value = _list_text(value, name)
        warnings.append(
            MappingWarning(
                f"list:{kind}:{name}",
                f"{label} is a list; Intercom takes no lists, so it is sent as text "
                "(comma-separated, or JSON when the list holds objects)",
            )
        )
    else:
        value = coerce_value(value, data_type, name)
    value, cut = truncate(value, f"truncated:{kind}:{name}", label)
    return value, warnings + cut
