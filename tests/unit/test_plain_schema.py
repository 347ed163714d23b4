"""PlainSchema may only ever say "valid" where singer-sdk's jsonschema check says so too."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import JSONSchemaValidator

from target_intercom.plain_schema import PlainSchema

VALUES: list[Any] = [
    None,
    "",
    "text",
    0,
    7,
    -3,
    True,
    False,
    1.0,
    1.5,
    Decimal("2.5"),
    Decimal("2"),
    float("nan"),
    {},
    {"a": 1},
    [],
    [1, "x"],
]
TYPES: list[Any] = [
    "string",
    "integer",
    "number",
    "boolean",
    "object",
    "array",
    "null",
    ["string", "null"],
    ["integer", "null"],
    ["number", "null"],
    ["boolean", "null"],
    ["object", "null"],
    ["array", "null"],
    ["integer", "string"],
]


def jsonschema_valid(schema: dict[str, Any], record: dict[str, Any]) -> bool:
    try:
        JSONSchemaValidator(schema).validate(record)
    except InvalidRecord:
        return False
    return True


@pytest.mark.parametrize("declared", TYPES, ids=str)
def test_a_typed_column_is_passed_only_when_jsonschema_passes_it(declared: Any) -> None:
    schema = {"type": "object", "properties": {"c": {"type": declared, "format": "date-time"}}}
    plain = PlainSchema.of(schema)
    assert plain is not None
    for value in VALUES:
        record = {"c": value}
        if plain.surely_valid(record, frozenset()):
            assert jsonschema_valid(schema, record), (declared, value)
    # The common values of a table are answered without jsonschema.
    assert plain.surely_valid({}, frozenset())


def test_most_valid_values_are_answered_without_jsonschema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": ["string", "null"]},
            "seats": {"type": ["integer", "null"]},
            "score": {"type": ["number", "null"]},
            "paid": {"type": ["boolean", "null"]},
        },
    }
    plain = PlainSchema.of(schema)
    assert plain is not None
    record = {"id": "u1", "seats": 3, "score": Decimal("1.5"), "paid": True, "extra": [1]}
    assert plain.surely_valid(record, frozenset())
    assert plain.surely_valid({"id": None, "seats": None}, frozenset())
    assert not plain.surely_valid({"seats": "3"}, frozenset())
    assert not plain.surely_valid({"paid": 1}, frozenset())


def test_required_and_closed_schemas_follow_jsonschema() -> None:
    schema = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "_sdc_sequence": {"type": "integer"}},
        "required": ["id"],
        "additionalProperties": False,
    }
    plain = PlainSchema.of(schema)
    assert plain is not None
    ignored = frozenset({"_sdc_sequence", "_sdc_extracted_at"})
    cases = [
        {"id": "a"},
        {},
        {"id": "a", "other": 1},
        {"id": "a", "_sdc_extracted_at": "x"},
        {"id": "a", "_sdc_sequence": "not a number"},
    ]
    for record in cases:
        seen = {k: v for k, v in record.items() if k not in ignored}
        assert plain.surely_valid(record, ignored) == jsonschema_valid(schema, seen), record
    # A required column that is ignored is missing from what jsonschema sees.
    required_ignored = {**schema, "required": ["_sdc_sequence"]}
    plain = PlainSchema.of(required_ignored)
    assert plain is not None
    assert not plain.surely_valid({"_sdc_sequence": 1}, ignored)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"c": {"type": "string", "maxLength": 3}}},
        {"type": "object", "properties": {"c": {"type": "integer", "minimum": 0}}},
        {"type": "object", "properties": {"c": {"type": "object", "properties": {}}}},
        {"type": "object", "properties": {"c": {"anyOf": [{"type": "string"}]}}},
        {"type": "object", "properties": {"c": {"$ref": "#/definitions/x"}}},
        {"type": "object", "properties": {"c": {}}},
        {"type": "object", "properties": {"c": {"type": []}}},
        {"type": "object", "properties": {"c": {"type": "date"}}},
        {"type": "object", "properties": {"c": True}},
        {"type": "object", "properties": {}, "patternProperties": {"^x": {"type": "string"}}},
        {"type": "object", "properties": {}, "additionalProperties": {"type": "string"}},
        {"type": "object", "properties": {}, "definitions": {}},
        {"type": "array", "properties": {}},
    ],
    ids=itertools.count(),
)
def test_a_schema_asserting_more_than_types_gets_no_shortcut(schema: dict[str, Any]) -> None:
    assert PlainSchema.of(schema) is None
