"""The settings a user may give, each declared once: its name, JSON type, default and
description as `--about` and Meltano show them, and how `Settings` reads its value.

One entry per setting keeps what users are told from drifting away from what a run does.
A setting with a fixed set of values is a `Literal` here, so its values are listed once
for the schema's enum and for the type checker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from singer_sdk import typing as th

from target_intercom.credentials import checked_token
from target_intercom.errors import FatalError
from target_intercom.mapping.custom_objects import CustomObjectStream, DeletedRows

Region = Literal["us", "eu", "au"]
LookupField = Literal["external_id", "email", "phone"]
ContactRole = Literal["user", "lead"]
UnknownAttributes = Literal["fail", "drop", "create"]
OnRecordError = Literal["fail", "skip"]
DeleteMode = Literal["archive", "delete", "ignore"]
WriteMode = Literal["upsert", "update_only"]

# The newest stable version of the official OpenAPI description we validate against.
DEFAULT_API_VERSION = "2.16"
# Chosen from the benchmark (README, "Performance"): Intercom answers in 100-300 ms, and
# 32 workers make 107-320 calls/s there, enough to reach a private app's limit of 10,000
# calls a minute (167/s) up to about 190 ms a call; the pacer keeps them under it.
DEFAULT_MAX_CONCURRENCY = 32


def _as_given(value: Any) -> Any:
    return value


# The streams the built-in kinds load (runtime.py): a custom object stream may not take one.
BUILT_IN_STREAMS = ("users", "contacts", "identifies", "companies", "groups", "events", "tracks")


_CUSTOM_OBJECT_KEYS = frozenset({"type", "reference_attribute", "deleted_rows"})


def _custom_objects(value: Any) -> dict[str, CustomObjectStream]:
    """Each stream's custom object type, reference attribute and deleted_rows, checked
    once, up front."""
    streams: dict[str, CustomObjectStream] = {}
    for stream, entry in (value or {}).items():
        where = f"custom_objects[{stream!r}]"
        if stream in BUILT_IN_STREAMS:
            raise FatalError(f"{where}: {stream!r} is a stream the target loads itself")
        type_name = entry.get("type") if isinstance(entry, dict) else None
        if not isinstance(type_name, str) or not type_name.strip():
            raise FatalError(f'{where} needs "type": the custom object type, e.g. "Order"')
        unknown = sorted(set(entry) - _CUSTOM_OBJECT_KEYS)
        if unknown:
            known = ", ".join(sorted(_CUSTOM_OBJECT_KEYS))
            raise FatalError(f"{where}: unknown key {unknown[0]!r} (it takes {known})")
        reference = entry.get("reference_attribute")
        if reference is not None and (not isinstance(reference, str) or not reference.strip()):
            raise FatalError(f"{where}: reference_attribute must be an attribute's name")
        deleted_rows = entry.get("deleted_rows", "unlink")
        if deleted_rows not in get_args(DeletedRows):
            choices = ", ".join(get_args(DeletedRows))
            raise FatalError(f"{where}: deleted_rows must be one of {choices}")
        streams[stream] = CustomObjectStream(type_name, reference, deleted_rows)
    return streams


def _or_none(value: Any) -> Any:
    """An empty value (`SETTING=` in a .env file) is no value."""
    return value or None


@dataclass(frozen=True)
class Setting:
    """One setting as `--about` and Meltano show it, and how `Settings` reads its value."""

    name: str
    json_type: th.JSONTypeHelper[Any] | type[th.JSONTypeHelper[Any]]
    description: str
    default: Any = None
    # A Literal type: its values are the only ones allowed.
    choices: object = None
    # Turns the value into the Settings attribute of the same name; None for a setting
    # no attribute mirrors (api_base_url: base_url and region_stated are worked out from it).
    read: Callable[[Any], Any] | None = _as_given
    required: bool = False
    secret: bool = False

    def property(self) -> th.Property[Any]:
        """The setting as singer-sdk declares it: `--about` and Meltano see the same table."""
        return th.Property(
            self.name,
            self.json_type,
            required=self.required,
            default=self.default,
            description=self.description,
            secret=self.secret,
            allowed_values=list(get_args(self.choices)) if self.choices else None,
        )


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "access_token",
        th.StringType,
        read=checked_token,
        required=True,
        secret=True,
        description=(
            "Secret. Intercom access token (Developer Hub > your app > Authentication); "
            "never printed, logged, or put in a URL."
        ),
    ),
    Setting(
        "region",
        th.StringType,
        default="us",
        choices=Region,
        description="Data hosting region of the workspace: us, eu or au.",
    ),
    Setting(
        "api_base_url",
        th.StringType,
        read=None,
        description=(
            "Overrides region (proxies, tests). Must be https, except for loopback hosts."
        ),
    ),
    Setting(
        "api_version",
        th.StringType,
        read=str,
        default=DEFAULT_API_VERSION,
        description="Sent as the Intercom-Version header on every call.",
    ),
    Setting(
        "request_timeout",
        th.NumberType(exclusive_minimum=0),
        read=float,
        default=30,
        description="Seconds to wait for one HTTP answer before retrying.",
    ),
    Setting(
        "max_retries",
        th.IntegerType(minimum=0),
        read=int,
        default=5,
        description="Retries of a call after connection errors, timeouts, 408 and 5xx.",
    ),
    Setting(
        "lookup_fields",
        th.ArrayType(th.StringType(allowed_values=list(get_args(LookupField)))),
        read=tuple,
        default=["external_id", "email"],
        description=(
            "Fields, in order, used to find an existing contact when Intercom does not "
            "name it (deletes, attaching users to companies). With phone listed, a contact "
            "not known yet is first searched for by its phone (one search) and updated "
            "when found; a group call's phone names its user."
        ),
    ),
    Setting(
        "contact_role",
        th.StringType,
        default="user",
        choices=ContactRole,
        description="Role of created contacts when a record has no valid role of its own.",
    ),
    Setting(
        "unknown_attributes",
        th.StringType,
        default="fail",
        choices=UnknownAttributes,
        description=(
            "What to do with a custom attribute Intercom does not know: fail the record, "
            "drop the attribute (warned once), or create it from the stream's schema."
        ),
    ),
    Setting(
        "anonymous_id_as_user_id",
        th.BooleanType,
        read=bool,
        default=False,
        description="Use anonymous_id as the external_id when a record has no user id.",
    ),
    Setting(
        "last_seen_from_calls",
        th.BooleanType,
        read=bool,
        default=True,
        description=(
            "For rows of identify calls (Segment's and RudderStack's identifies tables, or "
            "records with a nested context): set the contact's last seen to the call's time "
            "(timestamp, else original_timestamp, sent_at, received_at) unless "
            "context.active is false, as Segment's Intercom destination does. A row's own "
            "last_seen_at always wins. false: only a row's own last_seen_at sets it."
        ),
    ),
    Setting(
        "include_context",
        th.BooleanType,
        read=bool,
        default=False,
        description="Send context.device/os/app fields as custom attributes (device_type, ...).",
    ),
    Setting(
        "warehouse_columns",
        th.BooleanType,
        read=bool,
        default=True,
        description=(
            "Read rows of Segment's and RudderStack's warehouse tables as they write them: "
            "their bookkeeping columns (message id, received_at, sent_at, uuid_ts, "
            "context_*, ...) are never sent, and context.traits fills in missing fields."
        ),
    ),
    Setting(
        "row_time_columns",
        th.ObjectType(additional_properties=th.StringType),
        read=lambda value: dict(value or {}),
        description=(
            "For tables with several rows per contact or company (a history): per stream "
            "(as the tap names it, or as stream_maps rename it), the column holding when "
            'each row was made, e.g. {"public-users_history": "changed_at"}. The newest '
            "row's values win, and a re-sync of unchanged rows costs no call. Rows of "
            "Segment's and RudderStack's tables use the call's timestamp without it."
        ),
    ),
    Setting(
        "custom_objects",
        th.ObjectType(
            additional_properties=th.ObjectType(
                th.Property("type", th.StringType, required=True),
                th.Property("reference_attribute", th.StringType),
                th.Property(
                    "deleted_rows", th.StringType(allowed_values=list(get_args(DeletedRows)))
                ),
            )
        ),
        read=_custom_objects,
        description=(
            "Streams loaded as Intercom custom object instances, each with its type and, "
            'optionally, the contacts\' reference attribute, e.g. {"orders": {"type": '
            '"Order", "reference_attribute": "order"}}. The type, its attributes and the '
            "reference attribute must exist in Intercom's settings first. deleted_rows: "
            "what a row with _sdc_deleted_at does: unlink (the default: out of its "
            "contact's list), delete (the instance too) or ignore."
        ),
    ),
    Setting(
        "company_columns",
        th.BooleanType,
        read=bool,
        default=True,
        description=(
            "Read a users record's company_id and company_* columns (company_name, "
            "company_plan, ...: Segment's and RudderStack's flattened traits.company) as the "
            "user's company: it is created or updated and the contact attached, as a nested "
            "company object is. false: they are contact attributes."
        ),
    ),
    Setting(
        "dry_run",
        th.BooleanType,
        read=bool,
        default=False,
        description="Map and validate everything and log what would be sent; write nothing.",
    ),
    Setting(
        "on_record_error",
        th.StringType,
        default="fail",
        choices=OnRecordError,
        description=(
            "fail: stop at the first record Intercom rejects for good. skip: write it to "
            "dead_letter_path and go on."
        ),
    ),
    Setting(
        "dead_letter_path",
        th.StringType,
        read=str,
        default="target-intercom.dead-letter.jsonl",
        description="JSON-lines file, appended across runs, of records skipped under skip.",
    ),
    Setting(
        "max_rejected_in_a_row",
        th.IntegerType(minimum=0),
        read=int,
        default=50,
        description=(
            "Under skip, this many records rejected in a row (none delivered between them) "
            "stop the run with no STATE past them, as one cause rejecting everything; a run "
            "that rejects every record it reads fails too. 0: no limit."
        ),
    ),
    Setting(
        "delete_mode",
        th.StringType,
        default="archive",
        choices=DeleteMode,
        description="What a users record with _sdc_deleted_at set does to its contact.",
    ),
    Setting(
        "sync_store_path",
        th.StringType,
        read=str,
        default="target-intercom-sync.db",
        description=(
            "SQLite file, kept across runs, of what was written to Intercom (ids, "
            "fingerprints, tags, memberships), so a re-sync sends only what changed. "
            "Relative to the working directory (the Meltano project under meltano run)."
        ),
    ),
    Setting(
        "sync_store_url",
        th.StringType,
        read=_or_none,
        secret=True,
        description=(
            "Secret. A database URL for the sync store instead of the file, for runners "
            "without a persistent disk: postgresql+psycopg://user:password@host/db "
            "(pip install 'target-intercom[postgres]')."
        ),
    ),
    Setting(
        "sync_store_wait",
        th.NumberType(minimum=0),
        read=float,
        default=600,
        description=(
            "Seconds a run waits for another run that holds the same sync store (two "
            "schedules overlapping, a retried job) before it refuses with a line naming "
            "that run. 0: refuse at once."
        ),
    ),
    Setting(
        "sync_store_timeout",
        th.NumberType(exclusive_minimum=0),
        read=float,
        default=30,
        description=(
            "Seconds to wait for any one answer of the sync store (connecting, a statement, "
            "a lock) before the run stops with one line: a store that stops answering never "
            "hangs a run or its stop."
        ),
    ),
    Setting(
        "full_resync",
        th.BooleanType,
        read=bool,
        default=False,
        description=(
            "Send every record again, even unchanged ones (after edits by hand in "
            "Intercom), keeping the Intercom ids the sync store knows."
        ),
    ),
    Setting(
        "notice_intercom_edits",
        th.BooleanType,
        read=bool,
        default=False,
        description=(
            "Each run, ask Intercom which contacts were changed there since the last run by "
            "anyone but this target (a teammate in Intercom's UI), and send their rows again "
            "when they come: one search call per 150 contacts updated in the last 2 to 3 "
            "days, and one update per contact re-sent. Companies are not covered."
        ),
    ),
    Setting(
        "event_memory_days",
        th.IntegerType(minimum=1),
        description=(
            "Days the sync store remembers each data event it delivered, so that an events "
            "table sent again costs no call. Events older than this are taken as delivered "
            "long ago and not sent (counted past_event_memory): raise it for a backfill. "
            "Unset: every event is remembered (about 21 MB per million in SQLite, 75 MB in "
            "PostgreSQL)."
        ),
    ),
    Setting(
        "write_mode",
        th.StringType,
        default="upsert",
        choices=WriteMode,
        description=(
            "upsert: create or update. update_only: update contacts and companies that "
            "exist in Intercom, never create one (rows naming none are counted "
            "not_in_intercom)."
        ),
    ),
    Setting(
        "mirror_tags_and_companies",
        th.BooleanType,
        read=bool,
        default=False,
        description=(
            "Remove tags and company memberships that this target made earlier and that "
            "a record no longer lists; ones made by anyone else are never touched."
        ),
    ),
    Setting(
        "max_concurrency",
        th.IntegerType(minimum=1, maximum=256),
        read=int,
        default=DEFAULT_MAX_CONCURRENCY,
        description="Calls to Intercom in flight at once.",
    ),
    Setting(
        "requests_per_minute",
        th.IntegerType(minimum=1),
        description=(
            "Optional cap of our own below Intercom's limit, for workspaces shared with other apps."
        ),
    ),
)

CONFIG_SCHEMA = th.PropertiesList(*(setting.property() for setting in SETTINGS)).to_dict()
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS if s.default is not None}
