"""The target's settings: their JSON schema (what `--about` and Meltano show, and the one
place each default is declared) and the checks JSON schema cannot express.

What leaves this module is typed: a setting with a fixed set of values is a `Literal`,
so a misspelt comparison elsewhere is a type error, not a silent branch never taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from singer_sdk import typing as th

from target_intercom.credentials import checked_token, safe_base_url
from target_intercom.errors import FatalError

Region = Literal["us", "eu", "au"]
LookupField = Literal["external_id", "email", "phone"]
ContactRole = Literal["user", "lead"]
UnknownAttributes = Literal["fail", "drop", "create"]
OnRecordError = Literal["fail", "skip"]
DeleteMode = Literal["archive", "delete", "ignore"]
WriteMode = Literal["upsert", "update_only"]

REGION_URLS: dict[Region, str] = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
# The newest stable version of the official OpenAPI description we validate against.
DEFAULT_API_VERSION = "2.16"
# Chosen from the benchmark (README, "Performance"): Intercom answers in 100-300 ms, and
# 32 workers make 107-320 calls/s there, enough to reach a private app's limit of 10,000
# calls a minute (167/s) up to about 190 ms a call; the pacer keeps them under it.
DEFAULT_MAX_CONCURRENCY = 32

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "access_token",
        th.StringType,
        required=True,
        secret=True,
        description=(
            "Secret. Intercom access token (Developer Hub > your app > Authentication); "
            "never printed, logged, or put in a URL."
        ),
    ),
    th.Property(
        "region",
        th.StringType,
        default="us",
        allowed_values=list(get_args(Region)),
        description="Data hosting region of the workspace: us, eu or au.",
    ),
    th.Property(
        "api_base_url",
        th.StringType,
        description=(
            "Overrides region (proxies, tests). Must be https, except for loopback hosts."
        ),
    ),
    th.Property(
        "api_version",
        th.StringType,
        default=DEFAULT_API_VERSION,
        description="Sent as the Intercom-Version header on every call.",
    ),
    th.Property(
        "request_timeout",
        th.NumberType(exclusive_minimum=0),
        default=30,
        description="Seconds to wait for one HTTP answer before retrying.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0),
        default=5,
        description="Retries of a call after connection errors, timeouts, 408 and 5xx.",
    ),
    th.Property(
        "lookup_fields",
        th.ArrayType(th.StringType(allowed_values=list(get_args(LookupField)))),
        default=["external_id", "email"],
        description=(
            "Fields, in order, used to find an existing contact when Intercom does not "
            "name it (deletes, attaching users to companies)."
        ),
    ),
    th.Property(
        "contact_role",
        th.StringType,
        default="user",
        allowed_values=list(get_args(ContactRole)),
        description="Role of created contacts when a record has no valid role of its own.",
    ),
    th.Property(
        "unknown_attributes",
        th.StringType,
        default="fail",
        allowed_values=list(get_args(UnknownAttributes)),
        description=(
            "What to do with a custom attribute Intercom does not know: fail the record, "
            "drop the attribute (warned once), or create it from the stream's schema."
        ),
    ),
    th.Property(
        "anonymous_id_as_user_id",
        th.BooleanType,
        default=False,
        description="Use anonymous_id as the external_id when a record has no user id.",
    ),
    th.Property(
        "include_context",
        th.BooleanType,
        default=False,
        description="Send context.device/os/app fields as custom attributes (device_type, ...).",
    ),
    th.Property(
        "warehouse_columns",
        th.BooleanType,
        default=True,
        description=(
            "Read rows of Segment's and RudderStack's warehouse tables as they write them: "
            "their bookkeeping columns (message id, received_at, sent_at, uuid_ts, "
            "context_*, ...) are never sent, and context.traits fills in missing fields."
        ),
    ),
    th.Property(
        "dry_run",
        th.BooleanType,
        default=False,
        description="Map and validate everything and log what would be sent; write nothing.",
    ),
    th.Property(
        "on_record_error",
        th.StringType,
        default="fail",
        allowed_values=list(get_args(OnRecordError)),
        description=(
            "fail: stop at the first record Intercom rejects for good. skip: write it to "
            "dead_letter_path and go on."
        ),
    ),
    th.Property(
        "dead_letter_path",
        th.StringType,
        default="target-intercom.dead-letter.jsonl",
        description="JSON-lines file, appended across runs, of records skipped under skip.",
    ),
    th.Property(
        "max_rejected_in_a_row",
        th.IntegerType(minimum=0),
        default=50,
        description=(
            "Under skip, this many records rejected in a row (none delivered between them) "
            "stop the run with no STATE past them, as one cause rejecting everything; a run "
            "that rejects every record it reads fails too. 0: no limit."
        ),
    ),
    th.Property(
        "delete_mode",
        th.StringType,
        default="archive",
        allowed_values=list(get_args(DeleteMode)),
        description="What a users record with _sdc_deleted_at set does to its contact.",
    ),
    th.Property(
        "sync_store_path",
        th.StringType,
        default="target-intercom-sync.db",
        description=(
            "SQLite file, kept across runs, of what was written to Intercom (ids, "
            "fingerprints, tags, memberships), so a re-sync sends only what changed. "
            "Relative to the working directory (the Meltano project under meltano run)."
        ),
    ),
    th.Property(
        "sync_store_url",
        th.StringType,
        secret=True,
        description=(
            "Secret. A database URL for the sync store instead of the file, for runners "
            "without a persistent disk: postgresql+psycopg://user:password@host/db "
            "(pip install 'target-intercom[postgres]')."
        ),
    ),
    th.Property(
        "full_resync",
        th.BooleanType,
        default=False,
        description=(
            "Send every record again, even unchanged ones (after edits by hand in "
            "Intercom), keeping the Intercom ids the sync store knows."
        ),
    ),
    th.Property(
        "write_mode",
        th.StringType,
        default="upsert",
        allowed_values=list(get_args(WriteMode)),
        description=(
            "upsert: create or update. update_only: update contacts and companies that "
            "exist in Intercom, never create one (rows naming none are counted "
            "not_in_intercom)."
        ),
    ),
    th.Property(
        "mirror_tags_and_companies",
        th.BooleanType,
        default=False,
        description=(
            "Remove tags and company memberships that this target made earlier and that "
            "a record no longer lists; ones made by anyone else are never touched."
        ),
    ),
    th.Property(
        "max_concurrency",
        th.IntegerType(minimum=1, maximum=256),
        default=DEFAULT_MAX_CONCURRENCY,
        description="Calls to Intercom in flight at once.",
    ),
    th.Property(
        "requests_per_minute",
        th.IntegerType(minimum=1),
        description=(
            "Optional cap of our own below Intercom's limit, for workspaces shared with other apps."
        ),
    ),
).to_dict()

DEFAULTS: dict[str, Any] = {
    name: prop["default"] for name, prop in CONFIG_SCHEMA["properties"].items() if "default" in prop
}


def resolve_base_url(config: dict[str, Any]) -> str:
    """The API root: api_base_url if the token may go there, else the region's."""
    url = config.get("api_base_url")
    if not url:
        region = config.get("region") or DEFAULTS["region"]
        if region not in REGION_URLS:
            raise FatalError(f"region must be one of us, eu, au (got {region!r})")
        return REGION_URLS[region]
    return safe_base_url(str(url))


@dataclass(frozen=True)
class Settings:
    """The settings a run uses, with defaults applied and cross-checks done."""

    access_token: str
    region: Region
    # Whether the region picks the host (no api_base_url): then it says where the workspace is.
    region_stated: bool
    base_url: str
    api_version: str
    request_timeout: float
    max_retries: int
    lookup_fields: tuple[LookupField, ...]
    contact_role: ContactRole
    unknown_attributes: UnknownAttributes
    anonymous_id_as_user_id: bool
    include_context: bool
    warehouse_columns: bool
    dry_run: bool
    on_record_error: OnRecordError
    dead_letter_path: str
    max_rejected_in_a_row: int
    delete_mode: DeleteMode
    sync_store_path: str
    sync_store_url: str | None
    full_resync: bool
    write_mode: WriteMode
    mirror_tags_and_companies: bool
    max_concurrency: int
    requests_per_minute: int | None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:
        """The config as validated against CONFIG_SCHEMA, with its defaults filled in.

        The SDK fills defaults when it validates the config; they are filled here too for a
        target built with `validate_config=False`, from the same schema.
        """
        given = {name: value for name, value in config.items() if value is not None}
        merged = {**DEFAULTS, **given}
        return cls(
            access_token=checked_token(merged["access_token"]),
            region=cast(Region, merged["region"]),
            region_stated=not merged.get("api_base_url"),
            base_url=resolve_base_url(merged),
            api_version=str(merged["api_version"]),
            request_timeout=float(merged["request_timeout"]),
            max_retries=int(merged["max_retries"]),
            lookup_fields=tuple(merged["lookup_fields"]),
            contact_role=cast(ContactRole, merged["contact_role"]),
            unknown_attributes=cast(UnknownAttributes, merged["unknown_attributes"]),
            anonymous_id_as_user_id=bool(merged["anonymous_id_as_user_id"]),
            include_context=bool(merged["include_context"]),
            warehouse_columns=bool(merged["warehouse_columns"]),
            dry_run=bool(merged["dry_run"]),
            on_record_error=cast(OnRecordError, merged["on_record_error"]),
            dead_letter_path=str(merged["dead_letter_path"]),
            max_rejected_in_a_row=int(merged["max_rejected_in_a_row"]),
            delete_mode=cast(DeleteMode, merged["delete_mode"]),
            sync_store_path=str(merged["sync_store_path"]),
            sync_store_url=merged.get("sync_store_url") or None,
            full_resync=bool(merged["full_resync"]),
            write_mode=cast(WriteMode, merged["write_mode"]),
            mirror_tags_and_companies=bool(merged["mirror_tags_and_companies"]),
            max_concurrency=int(merged["max_concurrency"]),
            requests_per_minute=merged.get("requests_per_minute"),
        )
