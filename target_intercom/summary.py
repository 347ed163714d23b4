"""The run's closing lines: what it did to Intercom, per stream and in all, read first by a user."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from target_intercom.metrics import ANONYMOUS, Metrics, outcome_label

logger = logging.getLogger("target-intercom")


def log_summary(
    metrics: Metrics,
    *,
    elapsed: float,
    would_send: dict[str, int] | None,
    dead_letter: Path | None,
    would_dead_letter: Mapping[tuple[str, str], int] | None = None,
) -> None:
    """The run's closing lines: per stream, the calls, the records by what they did to
    Intercom, the `SUMMARY: {...}` line; last, what a dry run (`would_send` is its tally
    per endpoint) held back and where the skipped records went, so they are what a user
    reads first. A dry run's dead letters (`would_dead_letter`, by stream and error code)
    were never written: the closing lines say what they would have been."""
    dry_run = would_send is not None
    summary = metrics.snapshot()
    summary["elapsed_seconds"] = round(elapsed, 3)
    totals = metrics.record_totals(dry_run=dry_run)
    summary.update(totals)
    summary["dry_run"] = dry_run
    if would_send is not None:
        summary["dry_run_would_send"] = would_send
    if dead_letter is not None:
        summary["dead_letter_path"] = str(dead_letter)
    for stream, outcomes in summary["streams"].items():
        logger.info(
            "Stream %s: %s",
            stream,
            ", ".join(
                f"{n} {outcome_label(what, dry_run=dry_run)}"
                for what, n in sorted(outcomes.items())
            ),
        )
    logger.info(
        "%d API calls, %d retries, %d rate-limited (429) in %.1fs",
        summary["api_calls_total"],
        summary["retries"],
        summary["rate_limited"],
        summary["elapsed_seconds"],
    )
    logger.info("Records: %s", _records_line(totals, dry_run=dry_run))
    logger.info("SUMMARY: %s", json.dumps(summary, sort_keys=True))
    if would_send is not None:
        logger.warning(
            "Dry run would have sent: %s",
            ", ".join(
                f"{n} {endpoint}"
                for endpoint, n in sorted(would_send.items(), key=lambda kv: (-kv[1], kv[0]))
            )
            or "nothing",
        )
    absent = totals["records_not_in_intercom"]
    if absent:
        logger.warning(
            "%d record%s named no contact or company that Intercom has, and %s not "
            "written (write_mode update_only creates none)",
            absent,
            "" if absent == 1 else "s",
            "was" if absent == 1 else "were",
        )
    past = totals["records_past_event_memory"]
    if past:
        logger.warning(
            "%d event%s older than event_memory_days %s not sent: taken as delivered by an "
            "earlier run (raise event_memory_days, or run once with full_resync, to send "
            "older events)",
            past,
            "" if past == 1 else "s",
            "was" if past == 1 else "were",
        )
    _warn_anonymous(summary["streams"])
    skipped = totals["records_skipped"]
    if would_dead_letter and dead_letter is not None:
        # Counted from the file's lines: a company whose members never came is written
        # there too, though not skipped (delivery/failures.py).
        lines = sum(would_dead_letter.values())
        logger.warning(
            "Dry run would have dead-lettered %d record%s to %s (nothing was written): %s",
            lines,
            "" if lines == 1 else "s",
            dead_letter.absolute(),
            ", ".join(
                f"{n} {stream} ({code})"
                for (stream, code), n in sorted(would_dead_letter.items(), key=lambda kv: -kv[1])
            ),
        )
    elif skipped and dead_letter is not None:
        logger.warning(
            "%d record%s skipped and written to %s: see why in each line's "
            "error_message, and replay them after a fix (README: The dead-letter file)",
            skipped,
            " was" if skipped == 1 else "s were",
            dead_letter.absolute(),
        )
    if would_send is not None:
        logger.warning("DRY RUN: nothing was written to Intercom")


def _warn_anonymous(streams: Mapping[str, Mapping[str, int]]) -> None:
    """One line for every anonymous call the run did not send, by stream."""
    counts = {s: o[ANONYMOUS] for s, o in sorted(streams.items()) if o.get(ANONYMOUS)}
    total = sum(counts.values())
    if total:
        logger.warning(
            "%d anonymous call%s not sent (%s): %s no user id or email, only an anonymous "
            "id, and Segment and RudderStack drop such calls; set anonymous_id_as_user_id to "
            "send them as the anonymous id's contact",
            total,
            "" if total == 1 else "s",
            ", ".join(f"{n} {stream}" for stream, n in counts.items()),
            "it names" if total == 1 else "they name",
        )


def _records_line(totals: dict[str, int], *, dry_run: bool) -> str:
    """ "20 received: 17 delivered, 2 skipped (dead-lettered), 1 unchanged"."""
    parts = [
        f"{totals['records_would_send']} would be sent (dry run)"
        if dry_run
        else f"{totals['records_delivered']} delivered",
        f"{totals['records_skipped']} "
        + ("would be dead-lettered" if dry_run else "skipped (dead-lettered)"),
        f"{totals['records_unchanged']} unchanged",
    ]
    if totals["records_superseded"]:
        parts.append(f"{totals['records_superseded']} superseded (older than a row written)")
    if totals["records_not_in_intercom"]:
        parts.append(f"{totals['records_not_in_intercom']} not in Intercom (update_only)")
    if totals["records_anonymous"]:
        parts.append(f"{totals['records_anonymous']} anonymous (not sent)")
    if totals["records_past_event_memory"]:
        parts.append(f"{totals['records_past_event_memory']} past event memory (not sent)")
    if totals["records_unfinished"]:
        parts.append(f"{totals['records_unfinished']} not finished")
    return f"{totals['records_received']} received: " + ", ".join(parts)
