"""Benchmark of target-intercom against the bundled fake Intercom.

Each scenario starts the fake in its own process (so its CPU is not ours), writes N
generated Singer messages to a file, runs the real `target-intercom` command on it,
and measures what a user would: wall time, the target process's own CPU time and
peak memory (from `os.wait4`), its calls per record and 429s (the `SUMMARY:` line it
logs), and whether every record landed in the fake. A re-sync chain (`resync-5k`,
`resync-200k`) runs the target several times against one fake and one sync store, a row
per run. It then prints one row per run and the issue's Targets as ratios within this
one run, because this machine is shared and noisy: absolute numbers move between runs,
ratios much less.

    .venv/bin/python bench/run.py               # every scenario, ~30 minutes
    .venv/bin/python bench/run.py --smoke       # ~50 records each, what CI runs
    .venv/bin/python bench/run.py --only users-5k-0ms --markdown

See bench/README.md for what each scenario measures and how to read the table.

This file is only the command line; the work is in the modules beside it, one job each
(bench/README.md lists them), so that the README's commands and CI's smoke test keep one
entry point however the work is divided. The modules import each other by their bare
names because bench/ is not a package: Python puts a script's own directory first on
`sys.path`, and the spawned helpers that run the target inherit that path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from processes import default_max_concurrency
from report import print_table, write_json
from runner import run_all
from scenarios import DEFAULT_BASELINE_RECORDS, SMOKE_BASELINE_RECORDS, SMOKE_RECORDS, scenarios
from targets import verdicts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark target-intercom against the fake Intercom (see bench/README.md)."
    )
    parser.add_argument("--only", help="comma-separated scenario names to run")
    parser.add_argument(
        "--records-scale", type=float, default=1.0, help="multiply every scenario's N by this"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_RECORDS} records a scenario, {SMOKE_BASELINE_RECORDS} for the baseline (CI)",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        help="max_concurrency for every scenario but the baseline (default: the target's)",
    )
    parser.add_argument(
        "--baseline-records",
        type=int,
        default=DEFAULT_BASELINE_RECORDS,
        help="users in the max_concurrency 1 baseline (5,000 would take ~8 minutes alone); "
        "it is compared by records/s",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    everything = scenarios(
        scale=args.records_scale, smoke=args.smoke, baseline_records=args.baseline_records
    )
    chosen = everything
    if args.only:
        wanted = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = set(wanted) - {s.name for s in chosen}
        if unknown:
            names = ", ".join(s.name for s in chosen)
            print(
                f"unknown scenario(s) {', '.join(sorted(unknown))}; choose from {names}",
                file=sys.stderr,
            )
            return 2
        chosen = [s for s in chosen if s.name in wanted]
    concurrency = args.max_concurrency or default_max_concurrency()
    # The baseline may run fewer users than the row it is compared with.
    reference = next(s.records for s in everything if s.name == "users-5k-100ms")

    results = run_all(chosen, concurrency, baseline_reference=reference)
    verdict_list = verdicts({r.scenario: r for r in results})
    print_table(results, verdict_list, markdown=args.markdown, smoke=args.smoke, out=sys.stdout)
    if args.json:
        write_json(args.json, results, verdict_list, concurrency)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
