"""A singer-sdk target that does nothing with its records: the benchmark's CPU floor.

It runs the SDK's own message loop (reading, JSON parsing, schema validation, stream
maps, record counters) and then drops every record, so its CPU time per record is
what any singer-sdk target pays before doing its own work. `bench/run.py` feeds it
the same input as `users-200k-0ms` and compares the two per record.

Run: `python bench/noop_target.py < messages.jsonl` (no config needed).
"""

from __future__ import annotations

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.sinks import RecordSink


class NoopSink(RecordSink):
    """Accepts any stream and keeps nothing."""

    def process_record(self, record: dict, context: dict) -> None:
        """Deliberately empty: the cost measured is everything the SDK does around it."""


class NoopTarget(Target):
    """Every stream goes to `NoopSink`."""

    name = "target-noop"
    config_jsonschema = th.PropertiesList().to_dict()
    default_sink_class = NoopSink


if __name__ == "__main__":
    NoopTarget.cli()
