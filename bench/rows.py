"""One row of the table: what a run measured, and the ceiling its calls are held against.

The ratio is worked out here, per row, because it needs what only the run knows: when it
ended on the fake's clock, how long the target itself loaded, and the fake's rate
window. The notes say what sets the row's input or fake apart, so that a table pasted
into the README explains itself.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from inputs import Input
from scenarios import Scenario, skew_text


@dataclass
class Result:
    """One scenario's measurements, as printed and as written by --json."""

    scenario: str
    records: int
    max_concurrency: int
    latency_s: float
    rate_limit: str | None
    wall_s: float
    load_s: float  # the target's own elapsed_seconds: the wall time minus its start-up
    cpu_s: float
    cpu_sys_s: float
    peak_rss_mb: float
    api_calls: int | None = None
    rate_limited: int | None = None
    retries: int | None = None
    ceiling_calls_s: float | None = None
    ratio: float | None = None
    clock_skew_s: float = 0.0  # the fake's clock ahead of the target's (--clock-skew)
    streams: dict[str, int] = field(default_factory=dict)  # records of each stream
    companies_on_users: int = 0  # companies named only on user records (B2B)
    calls_by_endpoint: dict[str, int] = field(default_factory=dict)  # the SUMMARY's api_calls
    records_unchanged: int | None = None  # the SUMMARY's: records that needed no call
    renamed: int = 0  # users of the input with a changed name (a re-sync's changed rows)
    # Calls the fake itself counted during this run: a witness besides the target's SUMMARY.
    fake_calls: int | None = None
    changed_rows: int = 0  # a table chain's rows edited or appended since its first run
    # (user, company_id) pairs named by users rows' `company_id` column, and how many of
    # them the fake holds as memberships afterwards.
    links_expected: int = 0
    links_held: int | None = None
    ok: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def records_s(self) -> float:
        return self.records / self.wall_s if self.wall_s else 0.0

    @property
    def calls_per_record(self) -> float | None:
        return None if self.api_calls is None else self.api_calls / self.records

    @property
    def rate_limited_pct(self) -> float | None:
        if self.rate_limited is None or not self.api_calls:
            return None
        return 100.0 * self.rate_limited / self.api_calls

    @property
    def cpu_us_record(self) -> float:
        return 1e6 * self.cpu_s / self.records

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            records_s=self.records_s,
            calls_per_record=self.calls_per_record,
            rate_limited_pct=self.rate_limited_pct,
            cpu_us_record=self.cpu_us_record,
        )
        return data


def input_notes(scenario: Scenario, data: Input, result: Result, row: str) -> list[str]:
    """What sets a scenario's input or fake apart from the plain ones."""
    notes = []
    step = row.removeprefix(f"{scenario.name}-") if scenario.chain else ""
    if step == "first":
        notes.append("first load, into an empty sync store")
        if scenario.kind != "users":  # a table chain's first load: what each stream cost
            notes.append(f"calls: {endpoint_counts(result.calls_by_endpoint)}")
    elif step:
        notes.append(
            "again, the sync store deleted (the workspace full)"
            if step == "cold"
            else "again, with the same sync store"
        )
        if data.changed_rows:
            notes.append(f"{data.changed_rows:,} rows changed or appended")
        if data.renamed:
            notes.append(f"1 user in {data.changed_every} renamed ({data.renamed:,})")
        notes.append(f"{result.records_unchanged or 0:,} unchanged")
        notes.append(f"calls: {endpoint_counts(result.calls_by_endpoint)}")
    if scenario.kind in ("mixed", "out-of-order"):
        streams = ", ".join(f"{n:,} {stream}" for stream, n in sorted(data.expected.items()))
        notes.append(streams + (", in that order" if scenario.kind == "out-of-order" else ""))
    if scenario.kind == "orders":
        orders = data.expected.get("orders", 0)
        sent = sum(n for e, n in result.calls_by_endpoint.items() if "custom_object" in e)
        sent += result.calls_by_endpoint.get("PUT /contacts/{id}", 0)
        notes.append(
            f"{data.expected.get('users', 0):,} users, {orders:,} orders: "
            f"{sent / max(1, orders):.2f} calls per order row"
        )
    if scenario.kind in ("pipeline", "segment"):
        # Dicts keep the input's order, which is the tap's stream order.
        notes.append(", ".join(f"{n:,} {stream}" for stream, n in data.expected.items()))
    if result.links_held is not None:
        notes.append(f"company_id memberships: {result.links_held:,} of {result.links_expected:,}")
    if data.companies_on_users:
        notes.append(
            f"{data.expected.get('users', 0):,} users of {data.companies_on_users:,} companies"
        )
    if scenario.states_per_record:
        notes.append(f"{scenario.states_per_record * data.records:,} STATEs")
    if scenario.slow_call_every:
        # Each hung call ends in a closed connection, which the target retries once.
        notes.append(f"calls hung {scenario.slow_call_s:g} s and retried: {result.retries or 0}")
    if scenario.schema_every:
        notes.append(f"{data.records // scenario.schema_every:,} schema changes")
    if scenario.clock_skew:
        notes.append(f"local clock {skew_text(scenario.clock_skew)} Intercom's")
    return notes


def endpoint_counts(calls: dict[str, int]) -> str:
    """ "100 PUT /contacts/{contact_id}, 1 GET /me": a run's calls, most first."""
    by_count = sorted(calls.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{n:,} {endpoint}" for endpoint, n in by_count) or "none"


def rate_ceiling(result: Result, scenario: Scenario, concurrency: int, ended_at: float) -> None:
    """Fills the ceiling and the ratio of the calls Intercom answered to it.

    The ratio is taken over the target's own elapsed time (from building its runtime to
    its summary), not the process wall time: interpreter start and imports are a fixed
    second or two that no concurrency can change, and would otherwise read as pacing.
    """
    latency_bound = concurrency / scenario.latency if scenario.latency > 0 else math.inf
    nominal_limit = scenario.rate_limit / scenario.rate_window if scenario.rate_limit else math.inf
    ceiling = min(latency_bound, nominal_limit)
    if math.isinf(ceiling):
        return
    result.ceiling_calls_s = ceiling
    answered = (result.api_calls or 0) - (result.rate_limited or 0)
    # The fake's windows are aligned on its own clock, `clock_skew` ahead of ours.
    allowed = allowed_calls(
        ended_at - result.load_s + scenario.clock_skew,
        ended_at + scenario.clock_skew,
        latency_bound,
        scenario.rate_limit,
        scenario.rate_window,
    )
    result.ratio = answered / allowed if allowed > 0 else None
    result.notes.append(f"ratio over the {result.load_s:.1f} s load")


def allowed_calls(
    start: float, end: float, per_second: float, limit: int | None, window: float
) -> float:
    """The most calls any client could finish between two wall-clock times.

    Without a limit that is the latency bound (`max_concurrency / latency` per second)
    times the time. With one, Intercom's windows are fixed (they reset at multiples of
    the window, as X-RateLimit-Reset says), so a nominal "calls per second" is wrong for
    a run a few windows long: a client may spend a whole window's budget in its first
    second. Summing, window by window, the smaller of the limit and the latency bound
    over the part of the window the run covers is the ceiling a perfect client reaches.
    """
    if limit is None:
        return per_second * (end - start)
    total = 0.0
    window_start = math.floor(start / window) * window
    while window_start < end:
        covered = min(end, window_start + window) - max(start, window_start)
        total += min(float(limit), per_second * covered)
        window_start += window
    return total
