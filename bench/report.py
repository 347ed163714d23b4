"""Printing the rows and the Targets: a plain table, Markdown, or JSON.

The Markdown is the README's own table format, so a run can be pasted as it prints; the
JSON keeps every measurement and the machine, so that two runs can be compared later
ratio by ratio.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from rows import Result
from scenarios import SMOKE_RECORDS
from targets import Verdict

COLUMNS = (
    "scenario",
    "records",
    "wall s",
    "records/s",
    "calls/record",
    "429s (% calls)",
    "peak RSS MB",
    "CPU µs/record",
    "ceiling calls/s",
    "ratio",
    "notes",
)


def row(r: Result) -> list[str]:
    def opt(value: float | None, fmt: str) -> str:
        return "—" if value is None else format(value, fmt)

    limited = (
        "—" if r.rate_limited is None else f"{r.rate_limited} ({r.rate_limited_pct or 0.0:.2f} %)"
    )
    return [
        r.scenario,
        f"{r.records:,}",
        f"{r.wall_s:.1f}",
        f"{r.records_s:,.0f}",
        opt(r.calls_per_record, ".3f"),
        limited,
        f"{r.peak_rss_mb:.0f}",
        f"{r.cpu_us_record:,.0f}",
        opt(r.ceiling_calls_s, ",.0f"),
        opt(r.ratio, ".3f"),
        "; ".join(r.notes),
    ]


def print_table(
    results: list[Result],
    verdict_list: list[Verdict],
    *,
    markdown: bool,
    smoke: bool,
    out: TextIO,
) -> None:
    heading = "Targets (ratios within this run)" + (
        f"; a smoke run's {SMOKE_RECORDS} records are too few for them to mean anything"
        if smoke
        else ""
    )
    rows = [list(COLUMNS)] + [row(r) for r in results]
    if markdown:
        out.write("| " + " | ".join(COLUMNS) + " |\n")
        out.write(
            "|" + "|".join("---" if i in (0, 10) else "---:" for i in range(len(COLUMNS))) + "|\n"
        )
        for cells in rows[1:]:
            out.write("| " + " | ".join(cells) + " |\n")
        out.write(f"\n{heading}:\n\n| target | measured | goal | result |\n|---|---|---|---|\n")
        for v in verdict_list:
            out.write(f"| {v.name} | {v.measured} | {v.goal} | {outcome(v)} |\n")
        return
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(COLUMNS) - 1)]
    for cells in rows:
        line = "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=False))
        )
        out.write(f"{line}  {cells[-1]}".rstrip() + "\n")
    out.write(f"\n{heading}:\n")
    name_width = max(len(v.name) for v in verdict_list)
    for v in verdict_list:
        out.write(f"  {v.name.ljust(name_width)}  {outcome(v):4}  {v.measured}  (goal {v.goal})\n")


def outcome(v: Verdict) -> str:
    """`n/a`, `info`, `PASS` or `MISS`. `info` comes before the pass/miss check, because a
    Target kept only for information must not look like a goal that is still met or
    missed."""
    if v.passed is None:
        return "n/a"
    if v.info:
        return "info"
    return "PASS" if v.passed else "MISS"


def write_json(
    path: Path, results: list[Result], verdict_list: list[Verdict], concurrency: int
) -> None:
    """Every measurement and Target, with the machine they were taken on: a later run is
    compared with this one ratio by ratio, and only on the same kind of machine."""
    path.write_text(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                },
                "max_concurrency": concurrency,  # the target default unless --max-concurrency
                "results": [r.as_json() for r in results],
                "targets": [asdict(v) | {"result": outcome(v)} for v in verdict_list],
            },
            indent=2,
        )
        + "\n"
    )
