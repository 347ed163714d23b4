"""The Singer target: reads a tap's messages through singer-sdk's own record loop, and
turns every way a run can end into either a clean finish or one clear line and a
non-zero exit.

Records go through the SDK's public hooks (the sinks' `get_validator`,
`preprocess_record` and `process_record`). Two private methods are overridden, each
because singer-sdk has no hook for what it does; README.md, "How it works", lists them.
"""

from __future__ import annotations

import decimal
import json
import logging
import os
import sys
import threading
import typing as t
from types import FrameType

from singer_sdk import Target
from singer_sdk.exceptions import ConfigValidationError, RecordsWithoutSchemaException
from singer_sdk.helpers import capabilities
from singer_sdk.helpers.capabilities import TARGET_VALIDATE_RECORDS_CONFIG
from singer_sdk.io_base import SingerReader
from singer_sdk.mapper import RemoveRecordTransform
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import deserialize_json
from singer_sdk.sinks import Sink

from target_intercom.config_schema import CONFIG_SCHEMA
from target_intercom.credentials import declared_tokens
from target_intercom.errors import FatalError, Interrupted, Stopped
from target_intercom.input_drain import drain_stdin
from target_intercom.jsonvalues import json_default
from target_intercom.redact import install_redaction
from target_intercom.runtime import Runtime
from target_intercom.setting_names import check_setting_names
from target_intercom.settings import Settings
from target_intercom.sinks import DroppedSink, Intake, IntercomSink
from target_intercom.stop_request import StopRequest
from target_intercom.waits import Waits

logger = logging.getLogger("target-intercom")

# Every setting singer-sdk defines for some plugin: one of these that this target does
# not use is ignored with a warning, anything else is refused as unknown.
_SDK_SETTINGS = {
    name
    for value in vars(capabilities).values()
    if isinstance(value, dict) and isinstance(value.get("properties"), dict)
    for name in value["properties"]
}

# singer-sdk's reading: numbers with a fraction as Decimal.
_DECODER = json.JSONDecoder(parse_float=decimal.Decimal)


class _LineReader(SingerReader):
    """The SDK's reader (numbers with a fraction as Decimal, as every SDK target reads
    them), counting lines so that a bad one is named in one line instead of a traceback."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0

    def deserialize_json(self, line: str) -> dict[str, t.Any]:
        self.line_number += 1
        try:
            # singer-sdk's deserialize_json builds a decoder per line; the one decoder of
            # the run reads the same (it leaves a byte-order mark to json.loads, which
            # names it).
            message = deserialize_json(line) if line.startswith("\ufeff") else _DECODER.decode(line)
        except json.JSONDecodeError as exc:
            raise FatalError(
                f"input line {self.line_number} is not valid JSON ({exc.msg} at column "
                f"{exc.colno}); is the tap writing something other than Singer messages "
                "to stdout?"
            ) from None
        except RecursionError:
            raise FatalError(
                f"input line {self.line_number} nests JSON too deeply to read "
                f"(about {sys.getrecursionlimit()} levels or more)"
            ) from None
        if not isinstance(message, dict):
            raise FatalError(
                f"input line {self.line_number} is not a Singer message (a JSON object)"
            )
        record = message.get("record", {})
        if message.get("type") == "RECORD" and not isinstance(record, dict):
            raise FatalError(
                f"input line {self.line_number} is a RECORD whose record is not a JSON object "
                f"({type(record).__name__}); the tap sent a broken message"
            )
        return message


class TargetIntercom(Target):
    """Loads users, companies and events into Intercom."""

    name = "target-intercom"
    config_jsonschema = CONFIG_SCHEMA
    message_reader_class = _LineReader
    # Every retry, backoff, search and pacing wait of a run (waits.py): a subclass with
    # millisecond waits runs the tests that are about behaviour, not timing.
    waits: t.ClassVar[Waits] = Waits()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        # First: singer-sdk sets up its signal handlers (ours) while it is built.
        self._stop = StopRequest()
        self.runtime: Runtime | None = None
        self._log_failure: str | None = None
        # singer-sdk logs while it reads and checks the config: mask the token first.
        for token in declared_tokens(kwargs.get("config"), kwargs.get("parse_env_config", False)):
            install_redaction(token)
        for handler in logging.getLogger().handlers:
            handler.handleError = self._log_write_failed  # type: ignore[method-assign]
        try:
            super().__init__(*args, **kwargs)
        except ConfigValidationError:
            # The names first: a misspelt `acess_token` is that typo, not a missing token.
            self._check_setting_names()
            raise
        settings = Settings.from_config(dict(self.config))
        install_redaction(settings.access_token)
        for warning in self._check_setting_names():
            logger.warning(warning)
        self._stdout_lock = threading.Lock()
        self.runtime = Runtime(
            settings, write_state=self._emit_state, waits=self.waits, stop=self._stop
        )
        self.intake = Intake(
            kinds=self.runtime.kinds,
            options=self.runtime.contact_options,
            delivery=self.runtime.delivery,
            metrics=self.runtime.metrics,
            notices=self.runtime.notices,
        )
        # The sinks' drains have nothing to do (the pool writes records as they come), so
        # draining them on one thread costs nothing, where a thread pool costs a lot.
        self.max_parallelism = 1

    def _check_setting_names(self) -> list[str]:
        """Refuses an unknown setting (setting_names.py); warnings for ignored SDK ones."""
        properties = self.config_jsonschema.get("properties", {})
        secrets = frozenset(name for name, prop in properties.items() if prop.get("secret"))
        return check_setting_names(dict(self.config), set(properties), _SDK_SETTINGS, secrets)

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict[str, t.Any]) -> None:
        """The SDK's settings that mean something here: stream maps, flattening and
        validate_records; not load_method, batch_size_rows or add_record_metadata,
        which describe table loaders (deletes use _sdc_deleted_at whatever they say)."""
        properties = config_jsonschema.setdefault("properties", {})
        for name, prop in TARGET_VALIDATE_RECORDS_CONFIG["properties"].items():
            properties.setdefault(name, prop)
        super(Target, cls).append_builtin_config(config_jsonschema)

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        """The one sink class, for a stream a registered kind loads; else one error line.

        A stream that stream_maps drop (`__else__: __NULL__`, or a null map of its own)
        gets a sink all the same from singer-sdk, which then hands it no record: it is
        given one that loads nothing, instead of being refused as a stream no kind loads."""
        assert self.runtime is not None
        if self._dropped(stream_name):
            self._log_dropped(stream_name)
            return DroppedSink
        self.runtime.kinds.mapper(stream_name)
        return IntercomSink

    def _dropped(self, stream_name: str) -> bool:
        """Whether every stream map that sends records to this name drops them."""
        maps = [m for ms in self.mapper.stream_maps.values() for m in ms]
        named = [m for m in maps if m.stream_alias == stream_name]
        return bool(named) and all(isinstance(m, RemoveRecordTransform) for m in named)

    def _log_dropped(self, stream_name: str) -> None:
        """Said once per SCHEMA, and as a warning for a stream that would have loaded (its
        records are not lost silently when `__else__: __NULL__` catches it unlisted)."""
        assert self.runtime is not None
        try:
            self.runtime.kinds.mapper(stream_name)
        except FatalError:
            logger.info(
                "Stream '%s' is dropped by stream_maps: none of its records is loaded", stream_name
            )
            return
        logger.warning(
            "Stream '%s' is dropped by stream_maps, though target-intercom would load it: "
            "none of its records is loaded. To load it, list it in stream_maps (%s)",
            stream_name,
            json.dumps({stream_name: {}}),
        )

    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict[str, t.Any] | None = None,
        schema: dict[str, t.Any] | None = None,
        key_properties: t.Sequence[str] | None = None,
    ) -> Sink:
        """The SDK's sink, and the one it retires on a changed SCHEMA freed at once.

        singer-sdk keeps a retired sink until its next `drain_all`, which for a target
        that never fills a batch is the end of input: a tap that re-sends a changed
        SCHEMA every few records would hold thousands. These sinks keep no records (the
        pool has them), so draining right away loses nothing."""
        sink = super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )
        if schema is not None:
            self.drain_all()
        return sink

    def _process_state_message(self, message_dict: dict[str, t.Any]) -> None:
        # Private override: singer-sdk writes a STATE only after draining every sink, which
        # for a target that writes record by record on a pool would mean at the end of the
        # run. Here a STATE goes out once every record before it is in Intercom (the
        # delivery watermark). Removable if singer-sdk lets a target decide when a STATE
        # is safe to emit (e.g. a public `handle_state` hook).
        self._assert_line_requires(message_dict, requires={"value"})
        assert self.runtime is not None
        self.runtime.delivery.state(message_dict["value"])

    def _log_write_failed(self, record: logging.LogRecord) -> None:
        """A log line could not be written (stderr closed, a full disk): the run's record
        of what it did is lost from here on, so it stops, as when stdout goes away."""
        message = f"cannot write the log to stderr: {sys.exc_info()[1]}"
        if self._log_failure is None:
            self._log_failure = message
            if self.runtime is not None:
                self.runtime.delivery.fail(message)

    def _emit_state(self, state: dict[str, t.Any]) -> None:
        """Writes the state value alone, as Singer targets do and Meltano stores it."""
        line = json.dumps(state, default=json_default)
        with self._stdout_lock:
            try:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            except BrokenPipeError:
                # Python's recipe for a reader that went away: point stdout at devnull,
                # so that the flush at exit does not fail again with a traceback.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                raise

    # Ending a run

    def load(self, file_input: t.IO[str] | None = None) -> None:
        """`listen` (final in singer-sdk), and then the end of the run, however the reading
        stopped: after a signal only in-flight calls finish; after anything else, every
        record read before it is still delivered."""
        try:
            if self._log_failure is not None:
                raise FatalError(self._log_failure)
            assert self.runtime is not None
            self.runtime.start()
            # The SDK only iterates its input: the lines go through the stop request's
            # safe points, so a stop is acted on between two messages.
            self.listen(t.cast("t.IO[str]", self._stop.lines(file_input or sys.stdin)))
            # A stop asked for while the run ended still ends it as a stop (exit 1).
            self._stop.check()
        except Interrupted:
            self._close(wait=False)
            raise
        except BaseException:
            # Whatever stopped the reading, what came before it is still delivered.
            self._close(wait=True, input_ended=False)
            raise

    def process_endofpipe(self) -> None:
        """End of input: every record read is delivered, then the run's failure is raised."""
        super().process_endofpipe()
        self._close(wait=True)
        assert self.runtime is not None
        failure = self.runtime.delivery.failure
        if failure is not None:
            raise FatalError(failure.message)

    def _close(self, *, wait: bool, input_ended: bool = True) -> None:
        if self.runtime is not None:
            self.runtime.close(wait=wait, input_ended=input_ended)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # Private override: singer-sdk's handler drains every sink and exits, which here
        # would wait for the whole backlog. A stop must only let in-flight calls finish
        # and keep the STATE true. Removable if singer-sdk offers a public hook for
        # termination signals.
        self._stop.requested(signum)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: t.Any = None,
        file_input: t.IO[str] | None = None,
    ) -> None:
        """The CLI: every failure ends as one log line and exit code 1, never a traceback."""
        if about:
            cls.print_about(about_format)
            sys.exit(0)
        cls.print_version(print_fn=cls.logger.info)
        try:
            target = cls(
                config=config.config if config is not None else None,
                validate_config=True,
                parse_env_config=config.parse_env if config is not None else False,
            )
            target.load(file_input)
        except ConfigValidationError as exc:
            # The SDK's own report quotes the offending value, which for access_token is
            # the secret itself (a numeric token, say): name the setting, never its value.
            for error in exc.errors:
                if "config['access_token']" in error:
                    error = "access_token must be a string (its value is not shown)"
                cls.logger.error(error)
            cls.logger.error("Config validation failed")
            cls._exit_failed(file_input)
        except (Interrupted, Stopped) as exc:
            # A stop (a signal): exit now, as asked, without reading on.
            cls.logger.debug("Run failed", exc_info=True)
            cls.logger.error("target-intercom failed: %s", one_line(exc))
            sys.exit(1)
        except Exception as exc:
            cls.logger.debug("Run failed", exc_info=True)
            cls.logger.error("target-intercom failed: %s", one_line(exc))
            cls._exit_failed(file_input)

    @staticmethod
    def _exit_failed(file_input: t.IO[str] | None) -> t.NoReturn:
        """Exit code 1, once the tap has ended or a few seconds have passed (input_drain.py):
        the error line stays the last thing the user sees of the run, not a traceback of
        Meltano's about a closed pipe."""
        if file_input is None:
            drain_stdin()
        sys.exit(1)


def one_line(exc: BaseException) -> str:
    """One line for the user, whatever was raised."""
    if isinstance(exc, (FatalError, RecordsWithoutSchemaException)):
        text = str(exc)
    elif isinstance(exc, InvalidInputLine):
        text = f"a Singer message is incomplete: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    line = " ".join(text.split())
    return line if len(line) <= 500 else line[:497] + "..."
