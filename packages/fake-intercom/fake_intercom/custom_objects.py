"""Custom object instances (API 2.16) and the contacts' reference attributes that point at them.

Intercom defines custom object types and their attributes in its settings, never through
the API, so a test seeds them (`FakeIntercom.seed_custom_object_type`). What the API does
with them follows the 2.16 description, paths `/custom_object_instances/{type}`:

- `POST` creates or updates an instance by its `external_id`; `custom_attributes` take
  strings only (`create_or_update_custom_object_instance_request`: "additionalProperties:
  type: string"), and an attribute the type does not define is refused.
- `GET` with `external_id=` answers that single instance ("the response is a single object
  rather than a list"); with `references_contact_id=` the contact's instances; with
  neither, every instance of the type; paginated by `page` and `per_page` (at most 150).
- `DELETE` with `external_id=` removes the instance (`custom_object_instance_deleted`).
- An unknown type answers 404 `TypeNotFound`: code `not_found`, message
  "Custom object type `Name` not found" (the description's example names `undefined`).

A contact holds instances through a reference attribute: the description's example
`update_a_contact_with_an_association_to_a_custom_object_instance` sends
`custom_attributes: {"order": ["21"]}` on `PUT /contacts/{id}`. The fake stores that list
of instance ids as sent (a write replaces the list: whether Intercom replaces or extends it
is not documented, so a client must send the whole list either way), refuses an id that is
no instance of the referenced type, and renders it back as the list of ids. How Intercom
renders a reference on a contact, and whether `GET /data_attributes` lists it, are not
documented: the fake does not list it, but its name is taken for new attributes.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Iterable
from typing import Any

from fake_intercom.errors import ApiError, invalid

MAX_PER_PAGE = 150
DEFAULT_PER_PAGE = 20  # the description's example page
MAX_STRING_LENGTH = 255


def type_not_found(type_name: str) -> ApiError:
    """The description's `TypeNotFound` response."""
    return ApiError(404, "not_found", f"Custom object type `{type_name}` not found")


def object_not_found() -> ApiError:
    """The description's `ObjectNotFound` response."""
    return ApiError(404, "not_found", "Object not found")


@dataclasses.dataclass(slots=True)
class Instance:
    id: str
    type: str
    external_id: str
    created_at: int
    updated_at: int
    external_created_at: int | None = None
    external_updated_at: int | None = None
    custom_attributes: dict[str, str] = dataclasses.field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        """The description's `custom_object_instance`."""
        return {
            "id": self.id,
            "type": self.type,
            "custom_attributes": dict(self.custom_attributes),
            "external_id": self.external_id,
            "external_created_at": self.external_created_at,
            "external_updated_at": self.external_updated_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclasses.dataclass(slots=True)
class ObjectType:
    name: str
    attributes: frozenset[str]
    instances: dict[str, Instance] = dataclasses.field(default_factory=dict)  # by id
    by_external_id: dict[str, Instance] = dataclasses.field(default_factory=dict)


class CustomObjects:
    """A workspace's custom object types, their instances, and the contact attributes that
    reference them (reference attribute name -> type name)."""

    def __init__(self) -> None:
        self.types: dict[str, ObjectType] = {}
        self.references: dict[str, str] = {}
        self._ids = itertools.count(1)  # Intercom's instance ids are short numbers: "22"

    def seed_type(self, name: str, attributes: Iterable[str]) -> None:
        """Define a type (as Intercom's settings would); defining it again changes its
        attributes and keeps its instances."""
        known = self.types.get(name)
        if known is None:
            self.types[name] = ObjectType(name, frozenset(attributes))
        else:
            known.attributes = frozenset(attributes)

    def seed_reference(self, attribute: str, type_name: str) -> None:
        """A contact attribute `attribute` that holds ids of `type_name`'s instances."""
        if type_name not in self.types:
            raise ValueError(f"no custom object type {type_name!r} to reference")
        self.references[attribute] = type_name

    def _type(self, name: str) -> ObjectType:
        found = self.types.get(name)
        if found is None:
            raise type_not_found(name)
        return found

    def upsert(self, type_name: str, body: dict[str, Any]) -> dict[str, Any]:
        """`POST`: everything is checked before anything changes."""
        kind = self._type(type_name)
        external_id = body.get("external_id")
        if not isinstance(external_id, str) or not external_id:
            raise ApiError(400, "parameter_not_found", "external_id not specified")
        stamps = {}
        for name in ("external_created_at", "external_updated_at"):
            value = body.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise invalid(f"{name} must be an integer Unix timestamp, not {value!r}")
            if name in body:
                stamps[name] = value
        values = body.get("custom_attributes")
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise invalid("custom_attributes must be an object")
        for name, value in values.items():
            if name not in kind.attributes:
                raise invalid(f"Custom attribute '{name}' does not exist on {type_name}")
            if not isinstance(value, str):
                raise invalid(f"Custom attribute '{name}' must be a string, not {value!r}")
            if len(value) > MAX_STRING_LENGTH:
                raise invalid(
                    f"Custom attribute '{name}' is longer than {MAX_STRING_LENGTH} characters"
                )
        now = int(time.time())
        instance = kind.by_external_id.get(external_id)
        if instance is None:
            instance = Instance(str(next(self._ids)), type_name, external_id, now, now)
            kind.instances[instance.id] = instance
            kind.by_external_id[external_id] = instance
        for name, value in stamps.items():
            setattr(instance, name, value)
        instance.custom_attributes.update(values)
        instance.updated_at = now
        return instance.render()

    def listing(
        self, type_name: str, query: dict[str, str], references: dict[str, list[str]] | None
    ) -> dict[str, Any]:
        """`GET`: one instance by external_id, else a page of the type's instances, or of
        the contact's when `references` (the contact's reference attributes) is given."""
        kind = self._type(type_name)
        if "external_id" in query:
            found = kind.by_external_id.get(query["external_id"])
            if found is None:
                raise object_not_found()
            return found.render()
        if references is None:
            chosen = list(kind.instances.values())
        else:
            ids = [
                i
                for attribute, held in references.items()
                if self.references.get(attribute) == type_name
                for i in held
            ]
            chosen = [kind.instances[i] for i in dict.fromkeys(ids) if i in kind.instances]
        try:
            page = int(query.get("page", 1))
            per_page = int(query.get("per_page", DEFAULT_PER_PAGE))
        except ValueError as exc:
            raise invalid("page and per_page must be integers") from exc
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            raise invalid(f"page must be positive and per_page between 1 and {MAX_PER_PAGE}")
        return {
            "type": "list",
            "pages": {
                "type": "pages",
                "page": page,
                "per_page": per_page,
                "total_pages": -(-len(chosen) // per_page),
            },
            "total_count": len(chosen),
            "data": [i.render() for i in chosen[(page - 1) * per_page : page * per_page]],
        }

    def get(self, type_name: str, instance_id: str) -> dict[str, Any]:
        """`GET .../{id}`: by Intercom's id or the external_id."""
        kind = self._type(type_name)
        found = kind.instances.get(instance_id) or kind.by_external_id.get(instance_id)
        if found is None:
            raise object_not_found()
        return found.render()

    def delete(self, type_name: str, external_id: str | None) -> Instance:
        kind = self._type(type_name)
        found = kind.by_external_id.get(external_id or "")
        if found is None:
            raise object_not_found()
        del kind.instances[found.id]
        del kind.by_external_id[found.external_id]
        return found

    def check_reference(self, attribute: str, value: Any) -> list[str] | None:
        """The ids a contact's reference attribute is set to (None clears it), each an
        existing instance of the referenced type."""
        if value is None:
            return None
        type_name = self.references[attribute]
        if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
            raise invalid(f"Custom attribute '{attribute}' must be a list of {type_name} ids")
        instances = self.types[type_name].instances
        missing = [i for i in value if i not in instances]
        if missing:
            raise invalid(
                f"Custom attribute '{attribute}' names no {type_name} with id {missing[0]!r}"
            )
        return list(dict.fromkeys(value))

    def instances(self, type_name: str) -> list[dict[str, Any]]:
        """Every instance of a type, for tests (an unknown type raises ValueError)."""
        kind = self.types.get(type_name)
        if kind is None:
            raise ValueError(f"no custom object type {type_name!r}")
        return [i.render() for i in kind.instances.values()]
