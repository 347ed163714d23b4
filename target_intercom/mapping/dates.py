"""Dates as Intercom takes them: integer Unix seconds, from every form a source sends.

Sources write dates in many forms: typed dates when singer-sdk has parsed a column the
schema marks, ISO-8601 text in nested objects and unmarked columns, JavaScript date text
from JavaScript sources, epoch numbers from databases and event APIs. Intercom takes only
Unix seconds, so every form ends here, and a text that is not a date is refused with the
forms that would work rather than completed with a guess.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, overload

from singer_sdk.helpers._compat import (  # the SDK's own parsers: see parse_date
    date_fromisoformat,
    datetime_fromisoformat,
    time_fromisoformat,
)

from target_intercom.errors import MappingError
from target_intercom.mapping.messages import describe_value

_MILLISECONDS_FROM = 1e11
"""Epoch numbers this large are milliseconds: as seconds they would be after the year 5138."""

_NUMERIC_TEXT = re.compile(r"[+-]?\d+(\.\d+)?")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# What JavaScript's `String(new Date())` writes, as Segment's and RudderStack's test data
# and JavaScript sources send dates: "Mon May 19 2019 18:34:24 GMT+0000 (UTC)". The zone's
# name in parentheses is optional (and free text: the offset before it is what counts).
_JS_DATE = re.compile(
    rf"({'|'.join(_WEEKDAYS)}) ({'|'.join(_MONTHS)}) (\d{{1,2}}) (\d{{4}}) "
    r"(\d{2}):(\d{2}):(\d{2}) GMT([+-])(\d{2})(\d{2})(?: \([^()]*\))?"
)
_ISO_PARSERS: dict[str, Callable[[str], date | time]] = {
    "date-time": datetime_fromisoformat,
    "date": date_fromisoformat,
    "time": time_fromisoformat,
}


@overload
def parse_date(text: str) -> datetime: ...
@overload
def parse_date(text: str, kind: str) -> date | time: ...
def parse_date(text: str, kind: str = "date-time") -> date | time:
    """A date text read as `kind` (a JSON schema format: date-time, date or time); ValueError
    when it is not one. The one parser of date texts in this target.

    Its ISO-8601 reading is singer-sdk's own, because the SDK parses the top-level columns the
    schema marks with it before a sink sees the record: so a date text means the same in a
    marked column, an unmarked one and a nested object, and the sinks' validator refuses
    exactly what the SDK could not parse. JavaScript date texts are date-times too, because
    JavaScript sources send dates so (the validator rewrites them to ISO-8601 for the SDK).
    """
    if kind == "date-time":
        javascript = _JS_DATE.fullmatch(text)
        if javascript:
            return _javascript_moment(javascript)
    return _ISO_PARSERS[kind](text)


def to_unix_seconds(value: Any, field: str) -> int:
    """Integer Unix seconds, the only date Intercom takes.

    Accepts datetimes and dates (naive ones are UTC), the date-time texts `parse_date` reads
    (ISO-8601, and JavaScript's `Mon May 19 2019 18:34:24 GMT+0000 (UTC)`), and epoch seconds
    or milliseconds as numbers or numeric strings (absolute value >= 1e11 means milliseconds).
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
    try:
        moment = parse_date(text)
    except ValueError:
        raise _bad_date(text, field) from None
    return _date_seconds(moment)


def _javascript_moment(match: re.Match[str]) -> datetime:
    """A JavaScript `Date.prototype.toString()` text. Its weekday is not checked, as
    JavaScript's own parser does not check it (hand-written test data often has it wrong:
    "Mon May 19 2019" was a Sunday); a date that does not exist is refused."""
    _weekday, month, day, year, hour, minute, second, sign, zone_h, zone_m = match.groups()
    offset = timedelta(hours=int(zone_h), minutes=int(zone_m))
    return datetime(
        int(year),
        _MONTHS.index(month) + 1,
        int(day),
        int(hour),
        int(minute),
        int(second),
        tzinfo=timezone(-offset if sign == "-" else offset),
    )


def _bad_date(value: Any, field: str) -> MappingError:
    return MappingError(
        f"{field} is not a date ({describe_value(value)}): send an ISO-8601 date or date-time, "
        "a JavaScript date text (Mon May 19 2019 18:34:24 GMT+0000), "
        "or Unix epoch seconds or milliseconds",
        "bad_date",
    )
