"""singer-sdk's standard target tests, each with a `validate()` that reads the fake Intercom.

The standard files use stream names like `test_array_data`; a `stream_maps` alias sends
each to `users` (the recipe the target's own error message gives), and `id` becomes the
contact's external_id. Tests whose premise cannot apply to Intercom are replaced by ones
that check this target's behaviour for the same input, each saying why.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
from importlib import metadata

import pytest
from fake_intercom import FakeIntercom
from singer_sdk.testing import get_target_test_class, target_tests
from singer_sdk.testing.suites import SingerTestSuite

from target_intercom.errors import FatalError
from target_intercom.target import TargetIntercom
from tests.conftest import OPENAPI_PATH, TOKEN, store_path_for

# The standard suite takes its config when the class is built, so the fake starts here.
FAKE = FakeIntercom(token=TOKEN, openapi_path=OPENAPI_PATH if OPENAPI_PATH.exists() else None)
FAKE.start()
atexit.register(FAKE.stop)

USER_STREAMS = [
    "test_array_data",
    "test_duplicate_records",
    "test_strings",
    "test_strings_in_arrays",
    "test_strings_in_objects",
    "test_multiple_state_messages_a",
    "test_multiple_state_messages_b",
    "test_no_pk",
    "test_optional_attributes",
    "test_record_before_schema",
    "test_record_missing_key_property",
    "test_record_missing_required_property",
    "test_schema_updates",
    "example_stream",
    "record_missing_fields",
    "test_invalid_schema",
]
STREAM_MAPS: dict[str, dict[str, str]] = {name: {"__alias__": "users"} for name in USER_STREAMS}
for name, key in [
    ("TestCamelcase", "Id"),
    ("ForecastingTypeToCategory", "Id"),
    ("test:SpecialChars!in?attributes", "_id"),
]:
    STREAM_MAPS[name] = {
        "__alias__": "users",
        "__key_properties__": ["external_id"],
        "external_id": key,
        key: "__NULL__",
    }

CONFIG = {
    "access_token": TOKEN,
    "api_base_url": FAKE.url,
    "sync_store_path": store_path_for(FAKE),
    "unknown_attributes": "create",
    "stream_maps": STREAM_MAPS,
}


def contacts() -> dict[str, dict]:
    return {c["external_id"]: c for c in FAKE.contacts()}


class ArrayData(target_tests.TargetArrayData):
    def validate(self) -> None:
        held = contacts()
        assert held["1"]["custom_attributes"]["fruits"] == "apple, orange, pear"
        assert held["3"]["custom_attributes"]["fruits"] == "pear"


class Camelcase(target_tests.TargetCamelcaseTest):
    def validate(self) -> None:
        assert contacts()["2"]["custom_attributes"]["clientName"] == "Gitter iOS App"


class CamelcaseComplexSchema(target_tests.TargetCamelcaseComplexSchema):
    """The file holds only SCHEMA messages: what matters is that they are accepted."""

    def validate(self) -> None:
        assert FAKE.contacts() == []


class CliPrints(target_tests.TargetCliPrintsTest):
    """What the CLI prints for `--version` and `--about` (plain text, then JSON)."""

    def test(self) -> None:
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            super().test()
        self.printed = printed.getvalue()

    def validate(self) -> None:
        version, rest = self.printed.split("\n", 1)
        text, brace, json_text = rest.partition("\n{\n")
        package, sdk = metadata.version("target-intercom"), metadata.version("singer-sdk")
        assert version == f"target-intercom v{package}, Meltano SDK v{sdk}"

        about = json.loads(brace.strip() + json_text)
        assert about["name"] == "target-intercom"
        assert about["version"] == package
        assert {"about", "stream-maps", "schema-flattening"} <= set(about["capabilities"])
        settings = about["settings"]
        assert settings["properties"]["access_token"].get("secret") is True
        assert "access_token" in settings["required"]

        lines = text.splitlines()
        assert "Name: target-intercom" in lines
        assert f"Version: {package}" in lines
        named = [line.split("Name: ", 1)[1] for line in lines if line.startswith("  - Name: ")]
        assert named == list(settings["properties"])


class DuplicateRecords(target_tests.TargetDuplicateRecords):
    def validate(self) -> None:
        held = contacts()
        assert set(held) == {"1", "2"}
        assert held["1"]["custom_attributes"]["metric"] == 100
        assert held["2"]["custom_attributes"]["metric"] == 20


class EncodedStringData(target_tests.TargetEncodedStringData):
    def validate(self) -> None:
        held = contacts()
        assert held["2"]["custom_attributes"]["info"] == "απλή συμβολοσειρά"
        assert held["3"]["custom_attributes"]["info"] == "简单的字串"


class InvalidSchema(target_tests.TargetInvalidSchemaTest):
    def validate(self) -> None:
        assert FAKE.contacts() == []


class MultipleStateMessages(target_tests.TargetMultipleStateMessages):
    """The SDK expects the STATEs its batching would write. This target writes each STATE as
    soon as its records are delivered, coalescing those that become true together, so the
    output is an in-order subsequence of the input that ends with the last STATE."""

    def test(self) -> None:
        self.runner.sync_all()
        received = [
            {"test_multiple_state_messages_a": a, "test_multiple_state_messages_b": b}
            for a, b in [(1, 0), (2, 1), (3, 2), (5, 3), (5, 6)]
        ]
        written = self.runner.state_messages
        assert written[-1] == received[-1]
        positions = [received.index(value) for value in written]
        assert positions == sorted(set(positions))

    def validate(self) -> None:
        assert len(contacts()) == 6


class NoPrimaryKeys(target_tests.TargetNoPrimaryKeys):
    def validate(self) -> None:
        assert contacts()["3"]["custom_attributes"]["metric"] == 33


class OptionalAttributes(target_tests.TargetOptionalAttributes):
    def validate(self) -> None:
        held = contacts()
        assert held["1"]["custom_attributes"]["optional"] == "This is optional"
        assert "optional" not in held["2"]["custom_attributes"]


class RecordBeforeSchema(target_tests.TargetRecordBeforeSchemaTest):
    def validate(self) -> None:
        assert FAKE.contacts() == []


class RecordMissingKeyProperty(target_tests.TargetRecordMissingKeyProperty):
    """The SDK expects MissingKeyPropertiesError; for Intercom what matters is the contact's
    identity, so this target stops with its own record error naming what is missing."""

    def test(self) -> None:
        with pytest.raises(FatalError, match="neither an external_id nor an email"):
            self.runner.sync_all()

    def validate(self) -> None:
        assert FAKE.contacts() == []


class RecordMissingRequiredProperty(target_tests.TargetRecordMissingRequiredProperty):
    """A record that breaks its schema is a record error here (dead-lettered under skip),
    so with the default on_record_error: fail the run stops, naming the record."""

    def test(self) -> None:
        with pytest.raises(FatalError, match="does not match the stream's schema"):
            self.runner.sync_all()

    def validate(self) -> None:
        assert FAKE.contacts() == []


class SchemaUpdates(target_tests.TargetSchemaUpdates):
    """Each SCHEMA adds properties: every record lands with the attributes it carried, and
    each new attribute is created with the type the updated schema gives it."""

    def validate(self) -> None:
        held = {key: contact["custom_attributes"] for key, contact in contacts().items()}
        a4_a5 = {
            "3": {"a4_id": 1, "a4_value": 1, "a5": "banana, apple"},
            "4": {"a4_id": 2, "a4_value": 22, "a5": "orange, pear"},
            "5": {"a4_id": 3, "a4_value": 33, "a5": "apple", "a6": 985},
            "6": {"a4_id": 4, "a4_value": 444, "a5": "banana, orange", "a6": 341},
        }
        a3 = {"2": True, "3": False, "4": True, "5": False, "6": True}
        expected = {
            str(i): {
                "a1": 100 + i,
                "a2": f"string{i}",
                **({"a3": a3[str(i)]} if str(i) in a3 else {}),
                **a4_a5.get(str(i), {}),
            }
            for i in range(1, 7)
        }
        assert held == expected
        assert all(type(value["a3"]) is bool for value in held.values() if "a3" in value)
        created = {
            a["name"]: a["data_type"] for a in FAKE.data_attributes("contact") if a.get("custom")
        }
        assert created == {
            "a1": "float",
            "a2": "string",
            "a3": "boolean",
            "a4_id": "integer",
            "a4_value": "integer",
            "a5": "string",
            "a6": "integer",
        }


class PrimaryKeyUpdates(target_tests.TargetPrimaryKeyUpdates):
    def validate(self) -> None:
        held = contacts()
        assert held["1"]["name"] == "Alice"
        assert held["2"]["email"] == "bob@example.com"


class SpecialCharsInAttributes(target_tests.TargetSpecialCharsInAttributes):
    def validate(self) -> None:
        assert contacts()["a2e98886"]["custom_attributes"]["d_env"] == "prod"


class RecordMissingOptionalFields(target_tests.TargetRecordMissingOptionalFields):
    def validate(self) -> None:
        assert set(contacts()) == {"1", "2"}


# Not included: `schema_no_properties`, whose records hold only a nested object with no id or
# email anywhere: an Intercom contact cannot exist without one, so there is nothing to load.
SUITE = SingerTestSuite(
    kind="target",
    tests=[
        ArrayData,
        Camelcase,
        CamelcaseComplexSchema,
        CliPrints,
        DuplicateRecords,
        EncodedStringData,
        InvalidSchema,
        MultipleStateMessages,
        NoPrimaryKeys,
        OptionalAttributes,
        RecordBeforeSchema,
        RecordMissingKeyProperty,
        RecordMissingRequiredProperty,
        SchemaUpdates,
        PrimaryKeyUpdates,
        SpecialCharsInAttributes,
        RecordMissingOptionalFields,
    ],
)

StandardTargetTests = get_target_test_class(
    TargetIntercom,
    config=CONFIG,
    custom_suites=[SUITE],
    include_target_tests=False,
)


class TestTargetIntercom(StandardTargetTests):  # type: ignore[misc, valid-type]
    @pytest.fixture
    def resource(self):
        """Each standard test starts from an empty workspace and must send valid bodies."""
        FAKE.reset()
        yield FAKE
        assert FAKE.validation_errors() == []
