"""How a tap's stream name finds a kind of record, and what to tell a user whose stream none loads.

SQL taps built on singer-sdk (tap-postgres, tap-mysql, tap-snowflake, ...) name each stream
`<schema>-<table>` (`public-users`), so a table named like a kind loads as that kind with no
`stream_maps`. Any other stream stops the run at its SCHEMA, before any of its records: only
the user knows whether it is a table to load under another name or one to leave out, and
ignoring it would let Meltano's bookmark pass records that were never loaded. The error says
how to do either.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence

# Common table names for the rows of each kind, for the suggestion only: they are not loaded
# without a mapping, since a guess that is wrong (an `accounts` table of companies loaded as
# contacts) would write the wrong records to Intercom.
_LIKELY = {
    "users": ("people", "persons", "customers", "members", "profiles", "subscribers", "leads"),
    "companies": ("organizations", "organisations", "orgs", "businesses", "accounts"),
    "events": ("activities", "actions", "pageviews", "page_views", "clicks", "track"),
}


def table_part(stream: str) -> str:
    """The table of a `<schema>-<table>` stream name (lower case), else the name itself."""
    return stream.rpartition("-")[2].lower()


def likely_kind(stream: str, kinds: Mapping[str, Sequence[str]]) -> str | None:
    """The kind a stream's table name most resembles (`customers`, `stg_users` -> users)."""
    table = table_part(stream)
    names = {
        name: kind for kind, aliases in kinds.items() for name in (*aliases, *_LIKELY.get(kind, ()))
    }
    suffixed = [kind for name, kind in names.items() if table.endswith("_" + name)]
    if suffixed:
        return suffixed[0]
    close = difflib.get_close_matches(table, list(names), n=1, cutoff=0.75)
    return names[close[0]] if close else None


def unknown_stream_message(stream: str, kinds: Mapping[str, Sequence[str]]) -> str:
    """One line: which streams load, how to map this one to a kind, how to leave it out."""
    aliases = ", ".join(name for names in kinds.values() for name in names[1:])
    guess = likely_kind(stream, kinds)
    rename = json.dumps({"stream_maps": {stream: {"__alias__": guess or "|".join(kinds)}}})
    drop = json.dumps({"stream_maps": {stream: None}})
    return (
        f"stream '{stream}' is not one target-intercom loads ({', '.join(kinds)}, also as "
        f"<schema>-<table>, or {aliases}). To load it, rename it: {rename}; to leave it out, "
        f"select only the tables to load in the tap (meltano select), or drop it: {drop}"
    )
