"""What each scenario is: its input, the fake's behaviour and the target's settings.

A scenario is data, apart from how it runs, because its name is a contract: the Targets
pick their rows by it, bench/README.md documents it, `--only` selects by it, and
tests/test_bench_smoke.py expects every one. Adding a row is one entry in `scenarios()`
(plus, at most, a generator in `inputs` and a Target in `targets`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from inputs import B2B_COMPANIES, InputKey, Kind

SMOKE_RECORDS = 50
# The baseline makes one call at a time, 100 ms each: 50 records would wait 5 s for nothing.
SMOKE_BASELINE_RECORDS = 10
DEFAULT_BASELINE_RECORDS = 1000

# The rate-limited scenario again with the fake's clock off from the target's: name ->
# the fake's --clock-skew (its clock ahead of ours). The names say where the LOCAL clock
# is, as a user would describe their machine: a fake 1 s behind is a local clock 1 s ahead.
SKEWED = {
    "ratelimited-local-ahead-1s": -1.0,
    "ratelimited-local-ahead-30s": -30.0,
    "ratelimited-local-ahead-1h": -3600.0,
    "ratelimited-local-behind-1h": 3600.0,
}

# The re-sync chains: the "changed" run renames one user in this many (2 %), spread over the
# whole input (users 25, 75, 125, ...), as a day's edits to a table are.
CHANGED_EVERY = 50
# The table chains (`pipeline-10k`, `segment-5k`): a day's changes are 1 % of the tables.
TABLE_CHANGED_EVERY = 100

# The runs of a re-sync chain (see Scenario.chain).
Step = Literal["first", "unchanged", "changed", "appended", "cold"]
# Steps that read the input as it is a day later (`changed_every`); the rest the first's.
LATER_STEPS = ("changed", "appended", "cold")


@dataclass(frozen=True)
class Scenario:
    """One row of the table: an input, the fake's behaviour, and the target's concurrency."""

    name: str
    kind: Kind
    records: int
    latency: float  # seconds the fake waits before each answer
    rate_limit: int | None = None  # calls allowed per rate_window, None for no limit
    rate_window: float = 10.0
    max_concurrency: int | None = None  # None: the benchmark's concurrency (the default)
    noop: bool = False  # run bench/noop_target.py instead of target-intercom (no fake)
    # Seconds the fake's clock runs ahead of the target's (negative: behind), as the fake's
    # --clock-skew counts it. A positive skew is a LOCAL clock behind Intercom's.
    clock_skew: float = 0.0
    # > 0: this many distinct STATEs after every record, instead of one every 1,000.
    states_per_record: int = 0
    # > 0: a changed users SCHEMA before every `schema_every`-th record.
    schema_every: int = 0
    # > 0: one POST /contacts call in `slow_call_every` (drawn by the fake from a fixed
    # seed) gets no answer for `slow_call_s` seconds (the fake's `timeout` fault); then the
    # fake closes the connection and the target retries the call.
    slow_call_every: int = 0
    slow_call_s: float = 3.0
    # With `noop`: the no-op target also makes one bare POST /contacts per record to a fake
    # of its own (one requests.Session, one call at a time): the floor of a record that
    # costs one HTTPS call.
    noop_calls: bool = False
    # A re-sync chain: these runs, in order, against ONE fake and ONE sync store, each a row
    # of its own (`{name}-{run}`): "first" loads the input into an empty store, "unchanged"
    # runs the identical input again, "changed" (users: one in `changed_every` renamed; a
    # table kind: its tables a day later, see bench/tables.py) and "appended" (the same, for
    # a table that only grows) the input with a day's changes, and "cold" that input again
    # after the sync store was deleted (the workspace keeps everything).
    chain: tuple[Step, ...] = ()
    changed_every: int = CHANGED_EVERY

    @property
    def input_key(self) -> InputKey:
        """Scenarios with the same key read the same generated file."""
        return (self.kind, self.records, self.states_per_record, self.schema_every, 0)

    @property
    def runs(self) -> list[tuple[str, InputKey]]:
        """(row, input) of each run of the target: one, or one per step of a chain."""
        if not self.chain:
            return [(self.name, self.input_key)]
        kind, records, states, schemas, _ = self.input_key
        return [
            (
                f"{self.name}-{step}",
                (kind, records, states, schemas, self.changed_every if step in LATER_STEPS else 0),
            )
            for step in self.chain
        ]


def scenarios(*, scale: float, smoke: bool, baseline_records: int) -> list[Scenario]:
    """The issue's scenarios, with every N scaled (or tiny under --smoke)."""

    def n(records: int) -> int:
        return SMOKE_RECORDS if smoke else max(1, round(records * scale))

    return [
        Scenario("users-5k-100ms", "users", n(5_000), latency=0.1),
        Scenario("b2b-5k-100ms", "b2b", n(5_000), latency=0.1),
        Scenario("users-5k-ratelimited", "users", n(5_000), latency=0.02, rate_limit=1_000),
        Scenario("mixed-5k", "mixed", n(5_000), latency=0.1),
        Scenario("out-of-order-5k", "out-of-order", n(5_000), latency=0.1),
        Scenario("users-5k-0ms", "users", n(5_000), latency=0.0),
        Scenario("sdk-noop+call-5k", "users", n(5_000), latency=0.0, noop=True, noop_calls=True),
        Scenario("users-200k-0ms", "users", n(200_000), latency=0.0),
        Scenario("sdk-noop-200k", "users", n(200_000), latency=0.0, noop=True),
        Scenario(
            "baseline-c1-100ms",
            "users",
            SMOKE_BASELINE_RECORDS if smoke else n(baseline_records),
            latency=0.1,
            max_concurrency=1,
        ),
        Scenario(
            "state-storm",
            "users",
            n(5_000),
            latency=0.02,
            states_per_record=60,
            slow_call_every=1_000,
            slow_call_s=3.0,
        ),
        Scenario("schema-churn", "users", n(15_000), latency=0.0, schema_every=1),
        *(
            Scenario(name, "users", n(5_000), latency=0.02, rate_limit=1_000, clock_skew=skew)
            for name, skew in SKEWED.items()
        ),
        # 20 ms: every call a re-sync still makes costs a round trip, as against Intercom,
        # while the first load stays near its CPU bound (32 workers allow 1,600 calls/s).
        Scenario(
            "resync-5k", "users", n(5_000), latency=0.02, chain=("first", "unchanged", "changed")
        ),
        Scenario("resync-200k", "users", n(200_000), latency=0.0, chain=("first", "unchanged")),
        # Whole tables sent again every day, as tap-postgres sends them without a replication
        # key (bench/tables.py); 20 ms as for resync-5k. N is the users: 10,000 users make
        # 35,100 rows a run, 5,000 Segment users 30,000; the two chains take about 7 minutes.
        Scenario(
            "pipeline-10k",
            "pipeline",
            n(10_000),
            latency=0.02,
            chain=("first", "unchanged", "changed", "cold"),
            changed_every=TABLE_CHANGED_EVERY,
        ),
        Scenario(
            "segment-5k",
            "segment",
            n(5_000),
            latency=0.02,
            chain=("first", "unchanged", "appended"),
            changed_every=TABLE_CHANGED_EVERY,
        ),
        # A warehouse orders table as custom object instances: 5 orders a contact, ordered
        # by order id (one contact's orders far apart); 20 ms as for resync-5k.
        Scenario("orders-5k", "orders", n(5_000), latency=0.02, chain=("first", "unchanged")),
    ]


def describe(scenario: Scenario, workers: int) -> str:
    """One progress line: what is about to run."""
    unit = {"pipeline": "users", "segment": "users", "orders": "orders"}.get(
        scenario.kind, "records"
    )
    text = f"{scenario.name}: {scenario.records:,} {unit}, "
    if scenario.noop and scenario.noop_calls:
        return text + "bench/noop_target.py plus one POST /contacts a record, latency 0 ms"
    if scenario.noop:
        return text + "bench/noop_target.py, no fake"
    text += f"max_concurrency {workers}, latency {scenario.latency * 1000:g} ms"
    if scenario.kind == "b2b":
        text += f", users of {B2B_COMPANIES} companies (a nested company on each)"
    if scenario.kind == "out-of-order":
        text += ", streams in alphabetical order (companies, events, users)"
    if scenario.kind == "pipeline":
        text += ", tap-postgres's public-companies, -events, -users in full every run"
    if scenario.kind == "orders":
        text += ", users then orders as Order instances, 5 orders a contact"
    if scenario.kind == "segment":
        text += ", Segment's segment-identifies (several rows a user), -tracks in full every run"
    if scenario.rate_limit:
        text += f", limit {scenario.rate_limit}/{scenario.rate_window:g}s"
    if scenario.clock_skew:
        text += f", local clock {skew_text(scenario.clock_skew)} the fake's"
    if scenario.states_per_record:
        text += f", {scenario.states_per_record} STATEs after each record"
    if scenario.slow_call_every:
        text += (
            f", 1 in {scenario.slow_call_every:,} POST /contacts hangs {scenario.slow_call_s:g} s"
        )
    if scenario.schema_every:
        every = "" if scenario.schema_every == 1 else f" {scenario.schema_every:,}th"
        text += f", a changed SCHEMA before every{every} record"
    if scenario.chain:
        later = f"1 in {scenario.changed_every} rows changed or appended"
        steps: dict[Step, str] = {
            "first": "a first load",
            "unchanged": "the same input again",
            "changed": (
                f"1 user in {scenario.changed_every} renamed" if scenario.kind == "users" else later
            ),
            "appended": later,
            "cold": "that input after the sync store was deleted",
        }
        text += (
            f"; one fake and one sync store for {', then '.join(steps[s] for s in scenario.chain)}"
        )
    return text


def skew_text(clock_skew: float) -> str:
    """The fake's skew as seen from the target: "1 s ahead of" or "1 h behind"."""
    # A fake ahead of the target (positive skew) means a local clock behind it.
    direction = "behind" if clock_skew > 0 else "ahead of"
    seconds = abs(clock_skew)
    amount = f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"
    return f"{amount} {direction}"
