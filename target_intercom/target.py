"""The Singer target: reads a tap's messages, hands records to the sinks, and turns
every way a run can end into either a clean finish or one clear line and a non-zero exit.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
import threading
import typing as t
from types import FrameType

from singer_sdk import Target
from singer_sdk.configuration._dict_config import merge_missing_config_jsonschema
from singer_sdk.exceptions import (
    ConfigValidationError,
    InvalidJSONSchema,
    InvalidRecord,
    RecordsWithoutSchemaException,
)
from singer_sdk.helpers.capabilities import TARGET_VALIDATE_RECORDS_CONFIG
from singer_sdk.io_base import SingerReader
from singer_sdk.plugin_base import _ConfigInput
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_intercom.errors import FatalError, RecordError
from target_intercom.redact import install_redaction
from target_intercom.runtime import Runtime
from target_intercom.settings import CONFIG_SCHEMA, Settings
from target_intercom.sinks import SINKS, IntercomSink

logger = logging.getLogger("target-intercom")


class Interrupted(FatalError):
    """SIGTERM or SIGINT: stop reading, keep what is delivered, exit non-zero."""


class _LineReader(SingerReader):
    """The SDK's reader, counting lines so that a bad one can be named, and reading
    numbers as floats (the SDK's Decimals cannot be sent to Intercom as JSON)."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0

    def deserialize_json(self, line: str) -> dict:  # type: ignore[override]
        self.line_number += 1
        try:
            message = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FatalError(
                f"input line {self.line_number} is not valid JSON ({exc.msg} at column "
                f"{exc.colno}); is the tap writing something other than Singer messages "
                "to stdout?"
            ) from None
        if not isinstance(message, dict):
            raise FatalError(
                f"input line {self.line_number} is not a Singer message (a JSON object)"
            )
        return message


class TargetIntercom(Target):
    """Loads users, companies and events into Intercom."""

    name = "target-intercom"
    config_jsonschema = CONFIG_SCHEMA
    message_reader_class = _LineReader

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self.runtime: Runtime | None = None
        super().__init__(*args, **kwargs)
        settings = Settings.from_config(dict(self.config))
        install_redaction(settings.access_token)
        self._stdout_lock = threading.Lock()
        self.runtime = Runtime(settings, write_state=self._write_state_message)

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        """The SDK's settings that mean something here: stream maps, flattening and
        validate_records; not load_method, batch_size_rows or add_record_metadata,
        which describe table loaders (deletes use _sdc_deleted_at whatever they say)."""
        merge_missing_config_jsonschema(TARGET_VALIDATE_RECORDS_CONFIG, config_jsonschema)
        super(Target, cls).append_builtin_config(config_jsonschema)

    # Streams

    def get_sink_class(self, stream_name: str) -> type[IntercomSink]:
        sink_class = SINKS.get(stream_name)
        if sink_class is None:
            recipe = json.dumps({"stream_maps": {stream_name: {"__alias__": "users"}}})
            raise FatalError(
                f"stream '{stream_name}' is not one target-intercom loads (users, companies, "
                "events, or their aliases contacts, identifies, groups, tracks); rename it "
                f"with the stream_maps setting, e.g. {recipe}"
            )
        return sink_class

    def _process_schema_message(self, message_dict: dict) -> None:
        try:
            super()._process_schema_message(message_dict)
        except InvalidJSONSchema as exc:
            raise FatalError(
                f"the SCHEMA of stream '{message_dict.get('stream')}' is not valid JSON "
                f"Schema: {str(exc).splitlines()[0]}"
            ) from None

    def _process_record_message(self, message_dict: dict) -> None:
        """The SDK's record loop, with schema violations as record errors and the
        record handed to the pool instead of written in place."""
        self._assert_line_requires(message_dict, requires={"stream", "record"})
        stream_name = message_dict["stream"]
        if stream_name not in self.mapper.stream_maps:
            self._assert_sink_exists(stream_name)
        for stream_map in self.mapper.stream_maps[stream_name]:
            record = stream_map.transform(copy.copy(message_dict["record"]))
            if record is None:
                continue
            self._assert_sink_exists(stream_map.stream_alias)
            sink = t.cast(IntercomSink, self.get_sink(stream_map.stream_alias, record=record))
            assert self.runtime is not None
            self.runtime.metrics.count_outcome(sink.stream_name, "received")
            sink.position += 1
            if sink._validator is not None:
                try:
                    sink._validator.validate(record)
                except InvalidRecord as exc:
                    sink.reject(
                        record,
                        RecordError(
                            f"does not match the stream's schema: {exc.error_message}",
                            "schema_violation",
                        ),
                    )
                    continue
            sink.tally_record_read()
            sink.process_record(record, {})
            sink.record_counter_metric.increment()

    def _process_state_message(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        assert self.runtime is not None
        self.runtime.delivery.state(message_dict["value"])

    def _write_state_message(self, state: dict) -> None:
        """Writes the state value alone, as Singer targets do and Meltano stores it."""
        with self._stdout_lock:
            sys.stdout.write(json.dumps(state) + "\n")
            sys.stdout.flush()

    # Ending a run

    def listen(self, file_input: t.IO[str] | None = None) -> None:  # type: ignore[misc]
        try:
            super().listen(file_input)
        except Interrupted:
            self._close(wait=False)
            raise
        except BaseException:
            # Whatever stopped the reading, what came before it is still delivered.
            self._close(wait=True)
            raise

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        self._close(wait=True)
        assert self.runtime is not None
        failure = self.runtime.delivery.failure
        if failure is not None:
            raise FatalError(failure.message)

    def _close(self, *, wait: bool) -> None:
        if self.runtime is not None:
            self.runtime.close(wait=wait)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        raise Interrupted(
            f"stopped by signal {signum}; the last STATE written is the one to resume from"
        )

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: _ConfigInput | None = None,
        file_input: t.IO[str] | None = None,
    ) -> None:
        """The CLI: every failure ends as one log line and exit code 1, never a traceback."""
        if about:
            cls.print_about(about_format)
            sys.exit(0)
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        try:
            target = cls(
                config=config.config,
                validate_config=True,
                parse_env_config=config.parse_env,
            )
            target.listen(file_input)
        except ConfigValidationError:
            raise
        except Exception as exc:
            cls.logger.debug("Run failed", exc_info=True)
            cls.logger.error("target-intercom failed: %s", describe(exc))
            sys.exit(1)


def describe(exc: BaseException) -> str:
    """One line for the user, whatever was raised."""
    if isinstance(exc, (FatalError, RecordsWithoutSchemaException)):
        text = str(exc)
    elif isinstance(exc, InvalidInputLine):
        text = f"a Singer message is incomplete: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    line = " ".join(text.split())
    return line if len(line) <= 500 else line[:497] + "..."
