"""Custom attributes Intercom does not know yet: fail, drop or create, per `unknown_attributes`.

Intercom rejects a write that names an attribute it does not know. Reading the
workspace's attributes once per run and checking each record against them turns
that into a clear message before any call is spent, or into one `POST
/data_attributes` the first time a new column shows up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Literal

from target_intercom.client import ApiError, Client
from target_intercom.errors import RecordError
from target_intercom.notices import Notices
from target_intercom.settings import UnknownAttributes

logger = logging.getLogger("target-intercom")

Model = Literal["contact", "company"]

_FIX = {
    "contact": "Settings > Data > People data",
    "company": "Settings > Data > Company data",
}


class DataAttributes:
    """The workspace's custom attribute names, read once a model, and the policy for the rest."""

    def __init__(
        self, client: Client, policy: UnknownAttributes, notices: Notices, *, dry_run: bool = False
    ) -> None:
        self._client = client
        self._created = "Would create" if dry_run else "Created"
        self._policy = policy
        self._notices = notices
        self._known: dict[str, set[str]] = {}
        self._standard: dict[str, set[str]] = {}
        # Names Intercom would not create, with why: every later record holding one is
        # refused at once instead of asking again.
        self._refused: dict[tuple[str, str], tuple[str, str]] = {}
        self._lock = threading.Lock()

    def prepare(
        self, model: Model, values: dict[str, Any], types: Mapping[str, str]
    ) -> dict[str, Any]:
        """The custom attributes to send: all known ones, after applying the policy to the rest.

        `types` holds the Intercom data_type the mapping settled for each attribute.
        """
        if not values:
            return values
        known, standard = self._names(model)
        if standard & values.keys():
            values = self._without_standard(model, values, standard)
        unknown = [name for name in values if name not in known]
        if not unknown:
            return values
        if self._policy == "fail":
            raise RecordError(
                f"custom attribute '{unknown[0]}' does not exist in Intercom ({model} model); "
                f"create it in Intercom ({_FIX[model]}), or set unknown_attributes to "
                "'create' (from the stream's schema) or 'drop'",
                "unknown_attribute",
            )
        if self._policy == "drop":
            for name in unknown:
                self._notices.warn_once(
                    f"drop:{model}:{name}",
                    f"Dropping custom attribute '{name}': it does not exist in Intercom "
                    f"({model} model) and unknown_attributes is 'drop'",
                )
            return {k: v for k, v in values.items() if k in known}
        for name in unknown:
            self._create(model, name, types.get(name, "string"))
        return values

    def _without_standard(
        self, model: Model, values: dict[str, Any], standard: set[str]
    ) -> dict[str, Any]:
        """Intercom's own attributes (`updated_at`, `country`, ...) cannot be custom ones,
        and those the API writes are fields the mapping already sends: a column with such
        a name is never sent as a custom attribute, and never created as one."""
        for name in standard & values.keys():
            self._notices.warn_once(
                f"standard:{model}:{name}",
                f"Column '{name}' is not sent: it has the name of one of Intercom's standard "
                f"{model} attributes, which custom attributes cannot hold (rename the column "
                "with stream_maps to load it as a custom attribute)",
            )
        return {k: v for k, v in values.items() if k not in standard}

    def _names(self, model: Model) -> tuple[set[str], set[str]]:
        """The workspace's live custom attribute names, and its standard ones."""
        with self._lock:
            names = self._known.get(model)
            if names is None:
                body = self._client.request("GET", "/data_attributes", params={"model": model}).body
                items = (body or {}).get("data", [])
                names = {i["name"] for i in items if i.get("custom") and not i.get("archived")}
                self._known[model] = names
                self._standard[model] = {i["name"] for i in items if not i.get("custom")}
            return names, self._standard[model]

    def _create(self, model: Model, name: str, data_type: str) -> None:
        with self._lock:
            names = self._known[model]
            if name in names:
                return
            refused = self._refused.get((model, name))
            if refused is not None:
                raise RecordError(*refused)
            try:
                self._client.request(
                    "POST",
                    "/data_attributes",
                    json_body={"name": name, "model": model, "data_type": data_type},
                )
            except ApiError as exc:
                if "already have" in exc.intercom_message:
                    error = self._why_taken(model, name)
                else:
                    error = RecordError(
                        f"Intercom would not create the {model} attribute '{name}': "
                        f"{exc.intercom_message}; rename the column (stream_maps) or drop "
                        "it (unknown_attributes: drop)",
                        exc.code,
                    )
                if error is not None:
                    self._refused[(model, name)] = (error.message, error.code)
                    raise error from None
                # Someone else created it between our read and this write: success.
                names.add(name)
                return
            names.add(name)
            logger.info(
                "%s %s attribute '%s' (%s) in Intercom", self._created, model, name, data_type
            )

    def _why_taken(self, model: Model, name: str) -> RecordError | None:
        """Why a name Intercom says it already has cannot be written, if it cannot: it is
        archived (archived attributes keep their names) or one of Intercom's own."""
        body = self._client.request(
            "GET", "/data_attributes", params={"model": model, "include_archived": "true"}
        ).body
        held = [item for item in (body or {}).get("data", []) if item.get("name") == name]
        if any(item.get("custom") and not item.get("archived") for item in held):
            return None
        if any(item.get("archived") for item in held):
            reason = (
                f"is archived in Intercom ({_FIX[model]}): unarchive it there, or rename "
                "the column (stream_maps)"
            )
        else:
            reason = (
                "is one of Intercom's standard attributes, which custom_attributes cannot "
                "hold: rename the column (stream_maps) or drop it"
            )
        return RecordError(f"{model} attribute '{name}' {reason}", "attribute_unavailable")
