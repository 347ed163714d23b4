"""Data events with Intercom's rules: metadata limits, duplicate detection, the name cap.

These rules are why the target flattens metadata, picks 10 keys, and treats the 121st
event name as a permanent error; the fake enforces them so those paths are exercised.
Event names are case-insensitive in Intercom ("Signed Up" and "signed up" are one name),
both for the cap and for duplicate detection, so the fake compares them lower-cased.
"""

from __future__ import annotations

import copy
from typing import Any

from fake_intercom.errors import ApiError, invalid

MAX_METADATA_KEYS = 10
MAX_STRING_LENGTH = 255


def parse_event(body: dict[str, Any]) -> tuple[str, int, dict[str, Any], list[str]]:
    """Check a `POST /events` body: (event_name, created_at, kept metadata, ignored keys).

    Only the first 10 metadata keys, in the order sent, are looked at: Intercom ignores
    the rest instead of refusing the event, so a bad value past the 10th does no harm.
    """
    name = body.get("event_name")
    if not isinstance(name, str) or not name:
        raise invalid("event_name is required and must be a string")
    created_at = body.get("created_at")
    if created_at is None:
        raise invalid("created_at is required")
    if not isinstance(created_at, int) or isinstance(created_at, bool):
        raise invalid("created_at must be an integer Unix timestamp")
    metadata = body.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise invalid("metadata must be an object")
    keys = list(metadata)
    kept = keys[:MAX_METADATA_KEYS]
    for key in kept:
        _check_metadata_value(key, metadata[key])
    return name, created_at, {k: copy.deepcopy(metadata[k]) for k in kept}, keys[MAX_METADATA_KEYS:]


def _check_metadata_value(key: str, value: Any) -> None:
    """Strings, numbers, booleans, a rich link {url, value} or money {amount, currency}."""
    if isinstance(value, str):
        if len(value) > MAX_STRING_LENGTH:
            raise invalid(f"Metadata '{key}' is longer than {MAX_STRING_LENGTH} characters")
        return
    if isinstance(value, (bool, int, float)):
        return
    if isinstance(value, dict):
        if set(value) == {"url", "value"} and all(isinstance(v, str) for v in value.values()):
            return
        amount = value.get("amount")
        if (
            set(value) == {"amount", "currency"}
            and isinstance(amount, int)
            and not isinstance(amount, bool)
            and isinstance(value["currency"], str)
        ):
            return
    raise invalid(
        f"Metadata '{key}' must be a string, a number, a boolean, a rich link {{url, value}}"
        f" or a monetary amount {{amount, currency}}, not {value!r}"
    )


class EventLog:
    """The events a workspace holds, with Intercom's duplicate rule and name cap."""

    def __init__(self, max_names: int) -> None:
        self.max_names = max_names
        self.events: list[dict[str, Any]] = []
        self._keys: set[tuple[str, str, int]] = set()
        self._names: set[str] = set()  # lower-cased: names are case-insensitive
        # Each name's metadata keys, fixed by its first stored event.
        self._metadata_keys: dict[str, frozenset[str]] = {}

    def record(
        self,
        contact: dict[str, Any],
        name: str,
        created_at: int,
        metadata: dict[str, Any],
        ignored: list[str],
    ) -> None:
        """Store one event unless it duplicates one held (same contact, name, created_at).

        `contact` carries the contact's intercom_user_id, user_id and email as they are now.
        Names are compared case-insensitively; a stored event keeps the name as it was sent.
        A duplicate is accepted silently, as Intercom does; a new name past the cap is not.

        The metadata keys of a name are those of its first event: "It is not possible to
        change the metadata keys once the event has been sent. A new event will need to be
        created with the new keys" (2.16 description, `POST /events`). What Intercom does
        with a later event's new keys is not documented; nothing says it refuses the event
        (the description's answers are 202), so the fake accepts it and does not store the
        new keys, which it lists in `ignored_metadata_keys` beside those past the 10th: a
        client that counted on them arriving would be wrong against Intercom too.
        """
        folded = name.lower()
        key = (contact["intercom_user_id"], folded, created_at)
        if key in self._keys:
            return
        if folded not in self._names and len(self._names) >= self.max_names:
            raise too_many_names(self.max_names)
        self._keys.add(key)
        self._names.add(folded)
        fixed = self._metadata_keys.setdefault(folded, frozenset(metadata))
        new_keys = [k for k in metadata if k not in fixed]
        if new_keys:
            metadata = {k: v for k, v in metadata.items() if k in fixed}
            ignored = [*new_keys, *ignored]
        self.events.append(
            {
                "event_name": name,
                "created_at": created_at,
                **contact,
                "metadata": metadata,
                "ignored_metadata_keys": ignored,
            }
        )


def too_many_names(max_names: int) -> ApiError:
    """Intercom's refusal of a new name past the cap: a 422 whose code is the status itself
    (as seen in public projects' logs), unlike the named codes of its other errors."""
    return ApiError(422, "422", f"Cannot have more than {max_names} active event names")
