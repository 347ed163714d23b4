"""Finding a record's fields: the first of a field's aliases, and nested objects by flat name.

Taps, warehouses and stream maps spell one field several ways (`user_id`, `userId`), and
Intercom takes no nested values; reading fields through these helpers keeps the priority
of the aliases, and the names of nested values, the same for every stream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def first_item(record: Mapping[str, Any], *names: str) -> tuple[str, Any] | None:
    """The first `(name, value)` whose value is neither None nor "": aliases in priority order."""
    for name in names:
        value = record.get(name)
        if value is not None and value != "":
            return name, value
    return None


def first_value(record: Mapping[str, Any], *names: str) -> Any | None:
    """The value of the first of `names` that is neither None nor ""."""
    item = first_item(record, *names)
    return item[1] if item else None


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
