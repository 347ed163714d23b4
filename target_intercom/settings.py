"""The typed settings a run uses, read from a config by the entries of config_schema.py.

Each attribute is typed here, not made from the entries at run time, so that mypy checks
every use; a setting with a fixed set of values is a `Literal`, and a misspelt comparison
elsewhere is a type error, not a silent branch never taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from target_intercom.config_schema import (
    DEFAULTS,
    SETTINGS,
    ContactRole,
    DeleteMode,
    LookupField,
    OnRecordError,
    Region,
    UnknownAttributes,
    WriteMode,
)
from target_intercom.credentials import safe_base_url
from target_intercom.errors import FatalError
from target_intercom.mapping.custom_objects import CustomObjectStream

__all__ = [
    "REGION_URLS",
    "ContactRole",
    "DeleteMode",
    "LookupField",
    "OnRecordError",
    "Region",
    "Settings",
    "UnknownAttributes",
    "WriteMode",
    "resolve_base_url",
]

REGION_URLS: dict[Region, str] = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
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
    last_seen_from_calls: bool
    include_context: bool
    warehouse_columns: bool
    row_time_columns: dict[str, str]
    custom_objects: dict[str, CustomObjectStream]
    company_columns: bool
    dry_run: bool
    on_record_error: OnRecordError
    dead_letter_path: str
    max_rejected_in_a_row: int
    delete_mode: DeleteMode
    sync_store_path: str
    sync_store_url: str | None
    sync_store_wait: float
    sync_store_timeout: float
    full_resync: bool
    notice_intercom_edits: bool
    event_memory_days: int | None
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
        values = {
            setting.name: setting.read(
                merged[setting.name] if setting.required else merged.get(setting.name)
            )
            for setting in SETTINGS
            if setting.read
        }
        # The URL is checked after the token is read, so a refused token is named first.
        return cls(
            **values,
            region_stated=not merged.get("api_base_url"),
            base_url=resolve_base_url(merged),
        )
