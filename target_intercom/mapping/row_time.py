"""When a row was made, so that of one contact's or company's rows the newest one wins.

A table with several rows per contact (Segment's and RudderStack's `identifies`, one row per
identify call; any append-only history) has rows that differ from one another: sent in
input order, each would overwrite the one before, and an unchanged re-sync would cost a
call per row. With each row's own time the writers keep the newest row's values and settle
the older rows without a call (writers/contacts.py, writers/companies.py).

The time is the column the `row_time_columns` setting names for the stream; else, in a
message row of those tools' tables (warehouse.py), the call's time, as events read it;
else there is none, and rows count in input order, as they always did. It is kept in Unix
milliseconds: Segment's timestamps have them, and two calls a second apart are common.
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from target_intercom.errors import MappingError
from target_intercom.mapping.dates import parse_date
from target_intercom.mapping.fields import first_item
from target_intercom.mapping.messages import MappingWarning, describe_value
from target_intercom.mapping.warehouse import MESSAGE_TIME_SOURCES, Row

# Epoch numbers this large are milliseconds (as in dates.py: as seconds they would be
# after the year 5138).
_MILLISECONDS_FROM = 1e11
_NUMERIC_TEXT = re.compile(r"[+-]?\d+(\.\d+)?")


def row_time(
    row: Row, column: str | None, warnings: list[MappingWarning], kind: str
) -> tuple[str, int] | None:
    """(the column it came from, the row's time in Unix milliseconds), or None when the
    row has none: `column` (the setting's, for this stream) when set, else a message row's
    call time. A named column's value that is no time is the record's error
    (`bad_row_time`): a row that cannot be placed among its contact's rows could overwrite
    a newer one. A call's time that is none is passed over for the next one (with a
    warning about `kind`'s records, once): those rows loaded before there was a row time."""
    if column is not None:
        item = first_item(row.record, column)
        return None if item is None else (column, _milliseconds(item[1], column))
    if not row.message:
        return None
    for source in MESSAGE_TIME_SOURCES:
        item = first_item(row.record, source)
        if item is None:
            continue
        try:
            return source, _milliseconds(item[1], source)
        except MappingError:
            warnings.append(
                MappingWarning(
                    f"bad_call_time:{kind}:{source}",
                    f"{kind.capitalize()} records carry a {source} that is not a date-time "
                    f"({describe_value(item[1])}): the next of "
                    f"{', '.join(MESSAGE_TIME_SOURCES)} places them among their "
                    f"{kind}'s rows, else they count in input order",
                )
            )
    return None


def _milliseconds(value: Any, column: str) -> int:
    if isinstance(value, datetime):
        return calendar.timegm(value.utctimetuple()) * 1000 + value.microsecond // 1000
    if isinstance(value, date):
        return calendar.timegm(value.timetuple()) * 1000
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return _epoch_milliseconds(value, column)
    if isinstance(value, str):
        text = value.strip()
        if _NUMERIC_TEXT.fullmatch(text):
            return _epoch_milliseconds(Decimal(text), column)
        try:
            return _milliseconds(parse_date(text), column)
        except ValueError:
            pass
    raise _bad_time(value, column)


def _epoch_milliseconds(number: float | Decimal, column: str) -> int:
    try:
        seconds = -_MILLISECONDS_FROM < number < _MILLISECONDS_FROM
        return math.floor(number * 1000 if seconds else number)
    except (ArithmeticError, ValueError):
        raise _bad_time(number, column) from None


def _bad_time(value: Any, column: str) -> MappingError:
    return MappingError(
        f"{column} (the row's time, as row_time_columns names it) is not a date-time "
        f"({describe_value(value)}): send an ISO-8601 date-time, a JavaScript date text, "
        "or Unix epoch seconds or milliseconds",
        "bad_row_time",
    )
