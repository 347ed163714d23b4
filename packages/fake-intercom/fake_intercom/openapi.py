"""Request-body validation against Intercom's official OpenAPI description.

The fake checks every body it receives against the description so that a client which
drifts from the documented API fails in our tests rather than against the real Intercom.
The description is OpenAPI 3.0, whose schema dialect is close to JSON Schema draft 4;
`_to_json_schema` bridges the two differences that matter (`nullable`, `$ref` locations).
"""

from __future__ import annotations

import copy
import functools
import os
import threading
from pathlib import Path
from typing import Any

# No stubs in the project's environment; tolerated if someone installs them.
import jsonschema  # type: ignore[import-untyped, unused-ignore]
import yaml  # type: ignore[import-untyped, unused-ignore]

JsonSchema = dict[str, Any]

# Used only when the description file is absent, so that the Intercom-Version check
# behaves the same with and without it; equals the enum of the 2.16 description.
FALLBACK_VERSIONS: tuple[str, ...] = tuple(
    [f"1.{n}" for n in range(5)] + [f"2.{n}" for n in range(17)]
)

_SCHEMA_PREFIX = "#/components/schemas/"
_ANNOTATIONS = frozenset(
    {
        "description",
        "example",
        "examples",
        "title",
        "discriminator",
        "externalDocs",
        "xml",
        "readOnly",
        "writeOnly",
        "deprecated",
    }
)
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_SINGLES = ("items", "not", "additionalProperties")

# --- Overrides: exactly the spots that intercom-openapi/README.md lists as wrong about
# the real API's request bodies. Nothing else in the description is changed.
# 1. `POST /tags` declares `oneOf` over four request schemas that do not exclude each
#    other (none sets additionalProperties: false), so every "tag users" or "tag
#    companies" body matches two of them and fails `oneOf`: validate as `anyOf`.
# 2. `create_data_event_request.metadata` declares string values only; Intercom's
#    documentation allows numbers, booleans, rich links {url, value} and monetary
#    amounts {amount (cents), currency}.
# 3. Company `custom_attributes` (create_or_update_company_request) declares string
#    values only; Intercom's documentation allows numbers and booleans too. We also allow
#    null, which the fake (like contacts' attributes) takes as "clear this attribute".
_METADATA_VALUE: JsonSchema = {
    "anyOf": [
        {"type": ["string", "number", "boolean"]},
        {
            "type": "object",
            "required": ["url", "value"],
            "properties": {"url": {"type": "string"}, "value": {"type": "string"}},
        },
        {
            "type": "object",
            "required": ["amount", "currency"],
            "properties": {"amount": {"type": "integer"}, "currency": {"type": "string"}},
        },
    ]
}
_COMPANY_ATTRIBUTE_VALUE: JsonSchema = {"type": ["string", "number", "boolean", "null"]}
_TAGS_OPERATION = ("post", "/tags")


def default_openapi_path() -> Path | None:
    """Where the description is: INTERCOM_OPENAPI_PATH, else `shared/intercom-openapi/` in
    the current directory or one of its parents (a checkout sits next to `shared/`); None
    when absent.

    An explicit INTERCOM_OPENAPI_PATH is returned even if missing, so that a wrong setting
    fails loudly instead of silently turning validation off. The search starts from the
    working directory, not from this file, because an installed package lives in
    site-packages, far from any checkout.
    """
    env = os.environ.get("INTERCOM_OPENAPI_PATH")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for directory in (here, *here.parents):
        candidate = directory / "shared" / "intercom-openapi" / "api.intercom.io.yaml"
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=4)
def load_description(path: str) -> OpenApiDescription:
    """Parse the 1.3 MB YAML once per process: every FakeIntercom shares the result."""
    with open(path, encoding="utf-8") as f:
        document = yaml.load(f, Loader=yaml.CSafeLoader)
    return OpenApiDescription(document)


class OpenApiDescription:
    """The parsed description plus a cache of compiled validators, one per operation."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._document = document
        self._schemas: dict[str, Any] = _apply_schema_overrides(document["components"]["schemas"])
        self._validators: dict[tuple[str, str], jsonschema.Draft4Validator | None] = {}
        self._lock = threading.Lock()
        self.versions: tuple[str, ...] = tuple(
            str(v) for v in self._schemas["intercom_version"]["enum"]
        )

    def validate(self, method: str, template: str, body: Any) -> str | None:
        """Return why `body` violates the operation's JSON request schema, or None if it fits."""
        key = (method.lower(), template)
        try:
            validator = self._validators[key]
        except KeyError:
            with self._lock:
                if key not in self._validators:
                    self._validators[key] = self._compile(*key)
                validator = self._validators[key]
        if validator is None:
            return None
        error = jsonschema.exceptions.best_match(validator.iter_errors(body))
        if error is None:
            return None
        where = ".".join(str(p) for p in error.absolute_path)
        return f"{where}: {error.message}" if where else error.message

    def _compile(self, method: str, template: str) -> jsonschema.Draft4Validator | None:
        operation = self._document["paths"].get(template, {}).get(method, {})
        content = operation.get("requestBody", {}).get("content", {})
        raw = content.get("application/json", {}).get("schema")
        if raw is None:
            return None
        if (method, template) == _TAGS_OPERATION:
            raw = {"anyOf": raw["oneOf"]}
        definitions: dict[str, JsonSchema] = {}
        pending = _refs_in(raw)
        while pending:
            name = pending.pop()
            if name not in definitions:
                definitions[name] = _to_json_schema(self._schemas[name])
                pending |= _refs_in(self._schemas[name]) - definitions.keys()
        root = {"allOf": [_to_json_schema(raw)], "definitions": definitions}
        return jsonschema.Draft4Validator(root)


def _apply_schema_overrides(schemas: dict[str, Any]) -> dict[str, Any]:
    """Copy `schemas` with the README's corrections (see the comment on the overrides)."""
    fixed = dict(schemas)
    event = copy.deepcopy(schemas["create_data_event_request"])
    event["properties"]["metadata"]["additionalProperties"] = _METADATA_VALUE
    fixed["create_data_event_request"] = event
    company = copy.deepcopy(schemas["create_or_update_company_request"])
    company["properties"]["custom_attributes"]["additionalProperties"] = _COMPANY_ATTRIBUTE_VALUE
    fixed["create_or_update_company_request"] = company
    return fixed


def _refs_in(node: Any) -> set[str]:
    """Names of the component schemas that `node` refers to directly."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith(_SCHEMA_PREFIX):
                found.add(ref[len(_SCHEMA_PREFIX) :])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _to_json_schema(node: Any) -> Any:
    """Turn an OpenAPI 3.0 schema object into draft-4 JSON Schema.

    `nullable: true` becomes a null type (or an anyOf with null where the schema is a
    composition or a `$ref`, whose siblings draft 4 ignores), and references move from
    `#/components/schemas/` to `#/definitions/`. Walking keyword by keyword matters:
    a property may itself be called `description` or `example`.
    """
    if not isinstance(node, dict):
        return node
    out: JsonSchema = {}
    for key, value in node.items():
        if key in _ANNOTATIONS or key.startswith("x-") or key == "nullable":
            continue
        if key == "$ref":
            out[key] = "#/definitions/" + value[len(_SCHEMA_PREFIX) :]
        elif key == "properties":
            out[key] = {name: _to_json_schema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [_to_json_schema(sub) for sub in value]
        elif key in _SCHEMA_SINGLES:
            out[key] = _to_json_schema(value)
        else:
            out[key] = value
    if node.get("nullable") is not True:
        return out
    if (
        "$ref" in out
        or any(k in out for k in _SCHEMA_LISTS)
        or not isinstance(out.get("type"), str)
    ):
        return {"anyOf": [{"type": "null"}, out]}
    out["type"] = [out["type"], "null"]
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out
