"""A singer-sdk target that does nothing with its records: the benchmark's CPU floor.

It runs the SDK's own message loop (reading, JSON parsing, schema validation, stream
maps, record counters) and then drops every record, so its CPU time per record is
what any singer-sdk target pays before doing its own work. `bench/run.py` feeds it
the same input as `users-200k-0ms` and compares the two per record.

With `call_base_url` set it is the same target plus, per record, one `POST /contacts`
to that URL through one `requests.Session` (keep-alive, one call at a time): the floor
of a target that writes each record with one HTTPS call, as target-intercom must
(Intercom has no bulk write). `bench/run.py` runs it against the fake on the input of
`users-5k-0ms`, so that the two differ only in what target-intercom does besides its
one call (`sdk-noop+call-5k`).

Run: `python bench/noop_target.py < messages.jsonl` (no config needed), or
`python bench/noop_target.py --config cfg.json` with `{"call_base_url": ...,
"call_token": ...}`. `validate_records` is singer-sdk's default (on) either way; the
benchmark also sets it in the config, so that the floor validates as the target does.
"""

from __future__ import annotations

import functools
from typing import Any

import requests
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.sinks import RecordSink


class NoopSink(RecordSink):
    """Accepts any stream and keeps nothing."""

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """Deliberately empty: the cost measured is everything the SDK does around it."""


@functools.cache
def session(token: str) -> requests.Session:
    """One session for the whole run, as a target keeps one pool: its connection is
    opened once and kept alive, so a record pays for a call, not a TCP handshake."""
    http = requests.Session()
    http.headers.update(
        {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
    )
    return http


class NoopCallSink(NoopSink):
    """The no-op sink plus one bare call per record: what a record costs a target that
    does nothing but the one write Intercom needs for it."""

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """`POST /contacts` with the user's external_id, email and name; the answer is read
        as JSON for the contact's id, which any target writing to Intercom needs (a
        later update or attach names the contact by it)."""
        response = session(self.config["call_token"]).post(
            f"{self.config['call_base_url']}/contacts",
            json={"external_id": record["id"], "email": record["email"], "name": record["name"]},
            timeout=60,
        )
        response.raise_for_status()
        if not response.json().get("id"):
            raise RuntimeError(f"POST /contacts answered no id: {response.text[:200]}")


class NoopTarget(Target):
    """Every stream goes to `NoopSink`, or to `NoopCallSink` when `call_base_url` is set."""

    name = "target-noop"
    config_jsonschema = th.PropertiesList(
        th.Property("call_base_url", th.StringType, description="the fake Intercom's URL"),
        th.Property("call_token", th.StringType, description="its Bearer token"),
    ).to_dict()
    default_sink_class = NoopSink

    def get_sink_class(self, stream_name: str) -> type[NoopSink]:
        return NoopCallSink if self.config.get("call_base_url") else NoopSink


if __name__ == "__main__":
    NoopTarget.cli()
