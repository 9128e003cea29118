"""The record of ingestion runs: one row per run, opened when it starts and closed at the end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.store.models import FetchRun


@dataclass(frozen=True)
class RunTotals:
    """What a run did so far."""

    seen: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    unchanged: int = 0


def start_run(
    session: Session, source: str, window_start: date, window_end: date, started_at: datetime
) -> int:
    """Open a run row (finished_at empty until it ends) and return its id."""
    run = FetchRun(
        source=source, window_start=window_start, window_end=window_end, started_at=started_at
    )
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session,
    run_id: int,
    totals: RunTotals,
    finished_at: datetime,
    duration_seconds: float,
    error: str | None,
) -> None:
    """Close a run with its counts, duration and error (None when it went well)."""
    run = session.get_one(FetchRun, run_id)
    run.seen, run.new, run.updated = totals.seen, totals.new, totals.updated
    run.skipped, run.unchanged = totals.skipped, totals.unchanged
    run.finished_at = finished_at
    run.duration_seconds = duration_seconds
    run.error = error[:2000] if error else None


def last_good_window_end(session: Session, source: str) -> date | None:
    """The last day a finished, error-free run of `source` covered, or None."""
    return session.scalar(
        select(FetchRun.window_end)
        .where(
            FetchRun.source == source,
            FetchRun.finished_at.is_not(None),
            FetchRun.error.is_(None),
        )
        .order_by(FetchRun.window_end.desc())
        .limit(1)
    )
