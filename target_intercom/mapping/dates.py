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
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pendulum

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
