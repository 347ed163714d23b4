"""`POST /contacts/search` queries: compile Intercom's filter language into predicates.

Search is how the target finds an existing contact, so the fake understands the same
query shapes (single filters, AND/OR groups, Intercom's nesting limits) and paginates the
same way; anything it does not understand is refused rather than silently matching all.
Timestamp fields are matched by calendar day, as the 2.16 description says Intercom does,
in the fake workspace's time zone (UTC: `GET /me` says Etc/UTC): a client that counted on
second precision would be wrong against Intercom and is wrong here too.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from fake_intercom.errors import invalid

MAX_DEPTH = 2
MAX_FILTERS_PER_GROUP = 15
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 150
FIELDS = frozenset(
    {
        "id",
        "external_id",
        "email",
        "email_domain",
        "role",
        "name",
        "phone",
        "owner_id",
        "created_at",
        "updated_at",
        "signed_up_at",
        "last_seen_at",
        "unsubscribed_from_emails",
    }
)
# Matched by calendar day; only `=`, `<` and `>` are allowed on them.
TIMESTAMP_FIELDS = frozenset({"created_at", "updated_at", "signed_up_at", "last_seen_at"})
_DAY_OPERATORS = frozenset({"=", "<", ">"})
_SECONDS_A_DAY = 86_400
# Fields whose equality filters the store can answer from an index instead of a scan.
INDEXED_FIELDS = ("id", "external_id", "email")
_CASE_INSENSITIVE = frozenset({"email", "email_domain"})
_SCALARS = (str, int, float, bool, type(None))


class Searchable(Protocol):
    """What a predicate needs from a contact: the value of a field, None if unset."""

    def value(self, field: str) -> Any: ...


Predicate = Callable[[Searchable], bool]


def compile_query(query: Any, depth: int = 1) -> Predicate:
    """Turn a query object into a predicate, refusing what Intercom would refuse."""
    if not isinstance(query, dict):
        raise invalid("query must be an object")
    operator = query.get("operator")
    if operator in ("AND", "OR"):
        if depth > MAX_DEPTH:
            raise invalid(f"Search queries can be nested at most {MAX_DEPTH} levels deep")
        parts = query.get("value")
        if not isinstance(parts, list) or not parts:
            raise invalid(f"An {operator} query needs a non-empty list of filters")
        if len(parts) > MAX_FILTERS_PER_GROUP:
            raise invalid(f"A query group can have at most {MAX_FILTERS_PER_GROUP} filters")
        predicates = [compile_query(p, depth + 1) for p in parts]
        if operator == "AND":
            return lambda c: all(p(c) for p in predicates)
        return lambda c: any(p(c) for p in predicates)
    return _compile_filter(query)


def _compile_filter(query: dict[str, Any]) -> Predicate:
    field, operator, wanted = query.get("field"), query.get("operator"), query.get("value")
    if not isinstance(field, str) or not (
        field in FIELDS or field.startswith("custom_attributes.")
    ):
        raise invalid(f"'{field}' is not a field you can search contacts on")
    if field in TIMESTAMP_FIELDS:
        return _by_day(field, operator, wanted)
    fold = field in _CASE_INSENSITIVE
    if operator in ("IN", "NIN"):
        if not isinstance(wanted, list) or not all(isinstance(v, _SCALARS) for v in wanted):
            raise invalid(f"The {operator} operator needs a list of strings or numbers")
        options = {_fold(v, fold) for v in wanted}
        inside = operator == "IN"
        return lambda c: (_fold(c.value(field), fold) in options) == inside
    test = _OPERATORS.get(operator) if isinstance(operator, str) else None
    if test is None:
        raise invalid(f"'{operator}' is not a search operator")
    if operator in ("~", "!~", "^", "$"):
        fold = True
    target = _fold(wanted, fold)
    return lambda c: test(_fold(c.value(field), fold), target)


def _by_day(field: str, operator: Any, wanted: Any) -> Predicate:
    """A timestamp filter, truncated to the day both sides: `>` matches from the start of
    the next day, `=` the whole day, `<` everything before the day began."""
    if operator not in _DAY_OPERATORS:
        raise invalid(f"'{operator}' is not supported on the date field '{field}'")
    if not isinstance(wanted, int) or isinstance(wanted, bool):
        raise invalid(f"'{field}' is a date: its value must be a UNIX timestamp")
    test, day = _OPERATORS[operator], wanted // _SECONDS_A_DAY

    def matches(contact: Searchable) -> bool:
        have = contact.value(field)
        return isinstance(have, int) and test(have // _SECONDS_A_DAY, day)

    return matches


def _fold(value: Any, fold: bool) -> Any:
    return value.lower() if fold and isinstance(value, str) else value


def _compare(have: Any, want: Any, check: Callable[[Any, Any], bool]) -> bool:
    both_numbers = all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in (have, want)
    )
    return both_numbers and check(have, want)


def _text(have: Any, want: Any, check: Callable[[str, str], bool]) -> bool:
    return isinstance(have, str) and isinstance(want, str) and check(have, want)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda h, w: h == w,
    "!=": lambda h, w: h != w,
    "<": lambda h, w: _compare(h, w, lambda a, b: a < b),
    ">": lambda h, w: _compare(h, w, lambda a, b: a > b),
    "<=": lambda h, w: _compare(h, w, lambda a, b: a <= b),
    ">=": lambda h, w: _compare(h, w, lambda a, b: a >= b),
    "~": lambda h, w: _text(h, w, lambda a, b: b in a),
    "!~": lambda h, w: not _text(h, w, lambda a, b: b in a),
    "^": lambda h, w: _text(h, w, str.startswith),
    "$": lambda h, w: _text(h, w, str.endswith),
}


def equality_keys(query: Any) -> tuple[str, list[Any]] | None:
    """(field, values) that every match must have, when an index can answer it; else None.

    Lets the store narrow a search to a few candidates instead of scanning every
    contact, which matters when the benchmark searches among 200,000 of them.
    """
    if not isinstance(query, dict):
        return None
    if query.get("operator") == "AND" and isinstance(query.get("value"), list):
        for part in query["value"]:
            found = equality_keys(part)
            if found is not None:
                return found
        return None
    field, operator, value = query.get("field"), query.get("operator"), query.get("value")
    if field not in INDEXED_FIELDS:
        return None
    if operator == "=" and isinstance(value, str):
        return field, [value]
    if operator == "IN" and isinstance(value, list):
        return field, value
    return None


def paginate(items: Sequence[Any], pagination: Any) -> tuple[Sequence[Any], dict[str, Any]]:
    """Cut one page from `items` per `pagination` {per_page, starting_after}."""
    pagination = pagination if isinstance(pagination, dict) else {}
    per_page = pagination.get("per_page") or DEFAULT_PER_PAGE
    if not isinstance(per_page, int) or per_page < 1:
        raise invalid("per_page must be a positive integer")
    per_page = min(per_page, MAX_PER_PAGE)
    start = _decode_cursor(pagination.get("starting_after"))
    page = items[start : start + per_page]
    pages: dict[str, Any] = {
        "type": "pages",
        "page": start // per_page + 1,
        "per_page": per_page,
        "total_pages": math.ceil(len(items) / per_page),
    }
    if start + per_page < len(items):
        cursor = base64.urlsafe_b64encode(str(start + per_page).encode()).decode()
        pages["next"] = {"per_page": per_page, "starting_after": cursor}
    return page, pages


def _decode_cursor(cursor: Any) -> int:
    if cursor is None:
        return 0
    try:
        return int(base64.urlsafe_b64decode(str(cursor).encode()).decode())
    except ValueError as exc:
        raise invalid(f"'{cursor}' is not a valid starting_after cursor") from exc
