"""The Intercom data_type of a stream's columns, read from the stream's JSON schema.

An attribute that `unknown_attributes: create` creates keeps its type, so the type has to
come from what the stream declares rather than from whichever record comes first; only a
column the schema leaves untyped falls back to its value. The schema is digested once per
stream so that mapping a record stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

SDC_PREFIX = "_sdc_"
"""Singer metadata columns: bookkeeping of the pipeline, never Intercom data."""

_JSON_TYPES = {
    "integer": "integer",
    "number": "float",
    "boolean": "boolean",
    "string": "string",
    "array": "string",
}
_DATE_FORMATS = frozenset({"date-time", "date"})


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
        self._prefixed: dict[str, RecordSchema] = {}
        self._declares_any: dict[tuple[str, ...], bool] = {}

    def child(self, name: str) -> RecordSchema:
        """The schema of object property `name`, or of its items when it is an array of objects."""
        if name not in self._children:
            self._children[name] = RecordSchema(_object_schema(self._properties.get(name)))
        return self._children[name]

    def prefixed(self, prefix: str) -> RecordSchema:
        """The schema of the top-level properties named `<prefix><name>`, as `<name>`: an
        object a warehouse flattened into its parent's columns (`company_plan` is the
        company's `plan`)."""
        if prefix not in self._prefixed:
            properties = {
                name[len(prefix) :]: prop
                for name, prop in self._properties.items()
                if name.startswith(prefix)
            }
            self._prefixed[prefix] = RecordSchema({"properties": properties})
        return self._prefixed[prefix]

    def lifted(self, name: str) -> RecordSchema:
        """The schema of a record whose object property `name` is read as its own
        columns (a call's `traits`): the record's own properties first, then the object's."""
        key = f"{name}."
        if key not in self._prefixed:
            self._prefixed[key] = self.over(self.child(name))
        return self._prefixed[key]

    def over(self, base: RecordSchema) -> RecordSchema:
        """This schema's properties, with those of `base` it lacks: the schema of an object
        made of both, this one's values winning."""
        return RecordSchema({"properties": {**base._properties, **self._properties}})

    def data_type(self, name: str, value: Any) -> str:
        """The Intercom data_type of attribute `name`: from the schema, else from the value."""
        known = self.types.get(name)
        return known if known is not None else _infer_data_type(value)

    def declares(self, name: str) -> bool:
        """Whether the stream's schema has a top-level property `name` (a column the
        table has, even when this record leaves it out)."""
        return name in self._properties

    def declares_any(self, names: tuple[str, ...]) -> bool:
        """Whether the schema has any of these top-level properties; asked of every record,
        so answered once per tuple of names."""
        declared = self._declares_any.get(names)
        if declared is None:
            declared = self._declares_any[names] = any(map(self.declares, names))
        return declared


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
