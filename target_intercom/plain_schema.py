"""A quick yes for records of a plain schema, before jsonschema's full check.

Most streams are tables: an object of columns, each declaring only its JSON types. For
those, jsonschema's validator costs more CPU per record than everything else an unchanged
row of a re-sync does (it builds a validator per column). `PlainSchema` answers the same
question with one type test per column, and is sound by construction: it only ever says
"valid" when jsonschema would too (each test below implies jsonschema's own type check),
and says "ask jsonschema" otherwise, so every error, and its message, still comes from
jsonschema. A schema with anything more than types (lengths, ranges, nested properties,
`$ref`, ...) gets no shortcut at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

# Per JSON type, the Python types of a value that surely is one. Narrower than
# jsonschema's checks (1.0 is an integer there, a bool never is), never wider: a value
# of any other type goes to the full check.
_SURELY: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float, Decimal}),
    "boolean": frozenset({bool}),
    "object": frozenset({dict}),
    "array": frozenset({list}),
}
# Keywords that assert nothing about a value here: formats are not checked (singer-sdk's
# validator runs with no format checker), the rest is documentation.
_NO_ASSERTION = frozenset({"format", "description", "title", "examples", "default"})
_ROOT_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties"})


class PlainSchema:
    """The columns of a plain schema and the Python types each surely accepts."""

    def __init__(
        self,
        columns: dict[str, tuple[frozenset[type], bool]],
        required: tuple[str, ...],
        closed: bool,
    ) -> None:
        # Per column: the value types it surely accepts, and whether it accepts null.
        self._columns = columns
        self._required = required
        # additionalProperties false: a column the schema does not name is an error.
        self._closed = closed

    @classmethod
    def of(cls, schema: Mapping[str, Any]) -> PlainSchema | None:
        """The shortcut for this schema, or None when it is more than typed columns."""
        if not set(schema) <= _ROOT_KEYWORDS | _NO_ASSERTION:
            return None
        if "object" not in _type_names(schema.get("type", "object")):
            return None
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        closed = schema.get("additionalProperties", True)
        if not (
            isinstance(properties, Mapping)
            and isinstance(required, list)
            and all(isinstance(name, str) for name in required)
            and isinstance(closed, bool)
        ):
            return None
        columns: dict[str, tuple[frozenset[type], bool]] = {}
        for name, prop in properties.items():
            column = _column(prop)
            if column is None:
                return None
            columns[name] = column
        return cls(columns, tuple(required), not closed)

    def surely_valid(self, record: Mapping[str, Any], ignored: frozenset[str]) -> bool:
        """True when jsonschema would find the record (less its `ignored` columns) valid;
        False means only that the full check must decide."""
        columns = self._columns
        for name, value in record.items():
            column = columns.get(name)
            if column is None:
                if self._closed and name not in ignored:
                    return False
                continue
            if value is None:
                if not column[1] and name not in ignored:
                    return False
            elif type(value) not in column[0] and name not in ignored:
                return False
        return all(name in record and name not in ignored for name in self._required)


def _column(prop: Any) -> tuple[frozenset[type], bool] | None:
    """What a column's schema surely accepts, or None when it asserts more than a type."""
    if not isinstance(prop, Mapping) or "type" not in prop:
        return None
    if not set(prop) <= _NO_ASSERTION | {"type"}:
        return None
    names = _type_names(prop["type"])
    if not names or not names <= set(_SURELY) | {"null"}:
        return None
    accepted = frozenset(kind for name in names - {"null"} for kind in _SURELY[name])
    return accepted, "null" in names


def _type_names(declared: Any) -> set[str]:
    """The type names a `type` keyword lists; empty when it is not a name or a list of them."""
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list) and all(isinstance(name, str) for name in declared):
        return set(declared)
    return set()
