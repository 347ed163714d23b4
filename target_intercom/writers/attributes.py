"""Custom attributes Intercom does not know yet: fail, drop or create, per `unknown_attributes`.

Intercom rejects a write that names an attribute it does not know. Reading the
workspace's attributes once per run and checking each record against them turns
that into a clear message before any call is spent, or into one `POST
/data_attributes` the first time a new column shows up.

A workspace names its attributes its own way ("Plan Tier", made in Intercom's UI) while a
warehouse names its columns another ("plan_tier"): a column is written to the workspace's
attribute whose name matches it without case, spaces, underscores and hyphens, so that a
load never makes a second, near-identical attribute beside the one people already use.
"""

from __future__ import annotations

import logging
import re
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
_OTHER: dict[str, Model] = {"contact": "company", "company": "contact"}
# How Intercom's help center and UI name each model's attributes.
_DATA = {"contact": "people data", "company": "company data"}
_NOT_COMPARED = re.compile(r"[\s_-]+")


def loose(name: str) -> str:
    """A name as compared with the workspace's: without case, spaces, underscores, hyphens."""
    return _NOT_COMPARED.sub("", name).casefold()


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
        # The live custom names of each model by their loose form: one entry, or several
        # when the workspace holds names that differ only in case, spaces, `_` or `-`.
        self._loose: dict[str, dict[str, list[str]]] = {}
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
        if not values.keys() <= known:
            values = self._as_the_workspace_names_them(model, values, known)
        unknown = [name for name in values if name not in known]
        if not unknown:
            return values
        if self._policy == "fail":
            name = unknown[0]
            if self._held_by_other(model, name):
                raise _taken(model, name)
            raise RecordError(
                f"custom attribute '{name}' does not exist in Intercom ({model} model); "
                f"create it in Intercom ({_FIX[model]}), or set unknown_attributes to "
                "'create' (from the stream's schema) or 'drop'",
                "unknown_attribute",
            )
        if self._policy == "drop":
            for name in unknown:
                why = (
                    f"it is a custom attribute of Intercom's {_DATA[_OTHER[model]]}, and a "
                    f"{model} attribute cannot have the same name (rename the column with "
                    "stream_maps to load it)"
                    if self._held_by_other(model, name)
                    else f"it does not exist in Intercom ({model} model)"
                )
                self._notices.warn_once(
                    f"drop:{model}:{name}",
                    f"Dropping custom attribute '{name}': {why}, and unknown_attributes is 'drop'",
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

    def _as_the_workspace_names_them(
        self, model: Model, values: dict[str, Any], known: set[str]
    ) -> dict[str, Any]:
        """`values` with each name the workspace does not hold exactly renamed to the one
        live attribute it matches loosely. Several matches and no exact one: the record is
        refused naming them, since either could be the one meant. A column whose match is
        already written by another column of the record (its exact name) is left out."""
        # One look at `known`, which other workers add to: a name is exact or not once.
        exact = {name: v for name, v in values.items() if name in known}
        renamed = dict(exact)
        for name, value in values.items():
            if name in exact:
                continue
            with self._lock:
                matches = list(self._loose[model].get(loose(name), ()))
            if len(matches) > 1:
                listed = " and ".join(f"'{m}'" for m in sorted(matches))
                raise RecordError(
                    f"column '{name}' matches the {model} attributes {listed} in Intercom "
                    "(names compared without case, spaces, underscores and hyphens): rename "
                    "the column to the exact name of the one to write (stream_maps)",
                    "ambiguous_attribute",
                )
            target = matches[0] if matches else name
            if target in renamed:
                self._notices.warn_once(
                    f"collision:{model}:{name}",
                    f"Column '{name}' is not sent: another column of the record is already "
                    f"sent as {model} attribute '{target}'; rename one (stream_maps)",
                )
                continue
            if target != name:
                self._notices.warn_once(
                    f"matched:{model}:{name}",
                    f"Column '{name}' is written to the workspace's {model} attribute "
                    f"'{target}' (names compared without case, spaces, underscores and "
                    "hyphens)",
                )
            renamed[target] = value
        return renamed

    def _names(self, model: Model) -> tuple[set[str], set[str]]:
        """The workspace's live custom attribute names, and its standard ones."""
        with self._lock:
            names = self._known.get(model)
            if names is None:
                body = self._client.request("GET", "/data_attributes", params={"model": model}).body
                items = (body or {}).get("data", [])
                names = {i["name"] for i in items if i.get("custom") and not i.get("archived")}
                self._known[model] = set()
                self._loose[model] = {}
                for name in names:
                    self._add(model, name)
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
                self._add(model, name)
                return
            self._add(model, name)
            logger.info(
                "%s %s attribute '%s' (%s) in Intercom", self._created, model, name, data_type
            )

    def _add(self, model: Model, name: str) -> None:
        """Count `name` as a live attribute of `model` (the caller holds the lock)."""
        self._known[model].add(name)
        self._loose[model].setdefault(loose(name), []).append(name)

    def _why_taken(self, model: Model, name: str) -> RecordError | None:
        """Why a name Intercom says it already has cannot be written, if it cannot: it is
        archived (archived attributes keep their names), the other model's (names are
        unique across people and company data), or one of Intercom's own."""
        held = self._held(model, name)
        if any(item.get("custom") and not item.get("archived") for item in held):
            return None
        if not held and self._held(_OTHER[model], name):
            return _taken(model, name)
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

    def _held_by_other(self, model: Model, name: str) -> bool:
        """Whether the other model has a live custom attribute named `name` (its names are
        read once a run, and only once a record names an attribute `model` lacks): then
        creating it in Intercom would not help, and the user is told so."""
        return name in self._names(_OTHER[model])[0]

    def _held(self, model: Model, name: str) -> list[dict[str, Any]]:
        """The attributes of `model` named `name`, archived ones included."""
        body = self._client.request(
            "GET", "/data_attributes", params={"model": model, "include_archived": "true"}
        ).body
        return [item for item in (body or {}).get("data", []) if item.get("name") == name]


def _taken(model: Model, name: str) -> RecordError:
    other = _DATA[_OTHER[model]]
    return RecordError(
        f"custom attribute '{name}' exists in Intercom's {other}; a {model} attribute "
        "cannot have the same name (Intercom keeps one name across people and company "
        "data): rename the column (stream_maps)",
        "attribute_name_taken",
    )
