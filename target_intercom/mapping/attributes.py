"""A record's columns as Intercom custom attributes: their names, types and values.

Intercom answers a write with an error when one attribute breaks its rules (a name with a
`.`, a list, a string over 255 characters). One such column of a wide table should not cost
the whole record, so each column is made acceptable here (renamed, sent as text, cut, or
left out when two columns would share a name), with a warning once per attribute.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Mapping
from typing import Any

from target_intercom.jsonvalues import json_default
from target_intercom.mapping.fields import flatten
from target_intercom.mapping.messages import MappingWarning
from target_intercom.mapping.schema import SDC_PREFIX, RecordSchema
from target_intercom.mapping.values import MAX_STRING_LENGTH, coerce_value, to_text, truncate


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
                    "takes only letters, digits, currency symbols, spaces, hyphens and "
                    "underscores in attribute names",
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


@functools.lru_cache(maxsize=4096)
def attribute_name(column: str) -> str:
    """The column's name as Intercom accepts it for an attribute: every other character
    (`.`, `:`, `$`, ...) becomes `_`. Spaces stay: Intercom's own examples name attributes
    "Mithril Shirt" and "The One Ring", and a workspace's attributes made in its UI usually
    have spaces. Kept for the columns met last: a stream has the same few, and every record
    asks for each."""
    return "".join(char if _allowed_in_name(char) else "_" for char in column)


def _allowed_in_name(char: str) -> bool:
    # `$` is a currency symbol, but Intercom documents it as refused.
    return char.isalnum() or char in " -_" or (char != "$" and unicodedata.category(char) == "Sc")


def _attribute_value(
    name: str, value: Any, data_type: str, kind: str
) -> tuple[Any, list[MappingWarning]]:
    if not isinstance(value, list):
        value = coerce_value(value, data_type, name)
        if not isinstance(value, str) or len(value) <= MAX_STRING_LENGTH:
            return value, []  # most values: nothing to warn about, no label to make
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
    value, cut = truncate(value, f"truncated:{kind}:{name}", label)
    return value, warnings + cut


def _list_text(items: list[Any], field: str) -> str:
    """A list as one string: `a, b, c` for scalars, compact JSON when it holds objects."""
    if any(isinstance(item, (Mapping, list)) for item in items):
        return json.dumps(items, separators=(",", ":"), ensure_ascii=False, default=json_default)
    return ", ".join(to_text(item, field) for item in items if item is not None)
