"""The operator dashboard's content: the store's counts, and their charts drawn as SVG."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from digest.render.charts import Series, bar_chart, line_chart
from digest.store.dashboard import (
    OutboxRow,
    ReportRow,
    fetch_runs_by_source,
    recent_outbox,
    recent_reports,
    sent_per_minute,
    subscribers_by_day,
)
from digest.store.db import Database
from digest.store.models import FetchRun, SubscriberState
from digest.store.stats import EditionStats, collect_stats

HISTORY_DAYS = 30
LAST_EDITIONS = 7


@dataclass(frozen=True)
class EditionPanel:
    stats: EditionStats
    sent_chart: str  # SVG


@dataclass(frozen=True)
class Dashboard:
    subscribers_now: dict[str, int]
    subscribers_chart: str  # SVG
    editions: list[EditionPanel]
    outbox: list[OutboxRow]
    reports: list[ReportRow]
    fetch_runs: dict[str, list[FetchRun]]


def build_dashboard(db: Database, now: datetime, days: int = HISTORY_DAYS) -> Dashboard:
    """Everything /admin shows, read in one transaction; changes nothing."""
    with db.session() as session:
        history = subscribers_by_day(session, now.date(), days)
        stats = collect_stats(session, LAST_EDITIONS)
        per_minute = {row.day: sent_per_minute(session, row.day) for row in stats.editions}
        outbox = recent_outbox(session)
        reports = recent_reports(session)
        runs = fetch_runs_by_source(session)
    labels = [f"{day.day:%m-%d}" for day in history]
    series = [
        Series(state.value, [float(day.by_state.get(state.value, 0)) for day in history])
        for state in SubscriberState
    ]
    editions = [
        EditionPanel(
            row,
            bar_chart(
                f"Messages sent per minute, edition {row.day.isoformat()}",
                [f"{at:%H:%M}" for at, _ in per_minute[row.day]],
                [float(count) for _, count in per_minute[row.day]],
                "messages",
            ),
        )
        for row in stats.editions
    ]
    return Dashboard(
        subscribers_now={
            state.value: stats.subscribers.get(state.value, 0) for state in SubscriberState
        },
        subscribers_chart=line_chart(
            f"Subscribers by state, last {days} days (UTC)", labels, series, "subscribers"
        ),
        editions=editions,
        outbox=outbox,
        reports=reports,
        fetch_runs=runs,
    )
