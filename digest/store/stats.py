"""Counts for operators: subscribers, editions, deliveries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.store.models import Delivery, DeliveryStatus, Pool, PoolItem
from digest.store.outbox import outbox_counts
from digest.store.subscribers import count_by_state

# Rows in these states were claimed at least once even when first_attempt_at is missing
# (rows written before it existed); a pending or skipped row may never have been claimed.
CLAIMED_STATES = {
    DeliveryStatus.CLAIMED,
    DeliveryStatus.DEFERRED,
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
    DeliveryStatus.BOUNCED,
}


@dataclass(frozen=True)
class EditionStats:
    """One edition's run: its delivery rows by outcome, and first claim to last finish."""

    day: date
    papers: int
    due: int  # delivery rows queued for it
    sent: int
    skipped: int
    deferred: int
    failed: int
    bounced: int
    queued: int  # pending or claimed: not finished yet
    first_claim_at: datetime | None
    last_finish_at: datetime | None

    @property
    def duration(self) -> timedelta | None:
        if self.first_claim_at is None or self.last_finish_at is None:
            return None
        return max(self.last_finish_at - self.first_claim_at, timedelta(0))


@dataclass(frozen=True)
class Stats:
    subscribers: dict[str, int]
    deliveries: dict[str, int]
    editions: list[EditionStats]
    outbox: dict[str, int]  # subscriber emails by outbox status


# How `digest stats` and /metrics name the outbox's states.
OUTBOX_LABELS = {
    "pending": "queued",
    "claimed": "sending",
    "sent": "sent",
    "bounced": "bounced",
    "deferred": "retrying",
    "skipped": "nothing to send",
    "failed": "given up",
}


def collect_stats(session: Session, last_editions: int = 7) -> Stats:
    """Subscribers by state, deliveries by status, and the last editions' runs."""
    deliveries = {
        status.value: count
        for status, count in session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
    }
    editions = list(
        session.execute(select(Pool.id, Pool.date).order_by(Pool.date.desc()).limit(last_editions))
    )
    ids = [pool_id for pool_id, _ in editions]
    papers = {
        pool_id: count
        for pool_id, count in session.execute(
            select(PoolItem.pool_id, func.count())
            .where(PoolItem.pool_id.in_(ids))
            .group_by(PoolItem.pool_id)
        )
    }
    runs = _runs(session, ids)
    return Stats(
        count_by_state(session),
        deliveries,
        [runs.get(pool_id, _Run()).stats(day, papers.get(pool_id, 0)) for pool_id, day in editions],
        outbox_counts(session),
    )


@dataclass
class _Run:
    counts: Counter[DeliveryStatus] = field(default_factory=Counter)
    first_claim_at: datetime | None = None
    last_finish_at: datetime | None = None

    def stats(self, day: date, papers: int) -> EditionStats:
        c = self.counts
        return EditionStats(
            day=day,
            papers=papers,
            due=sum(c.values()),
            sent=c[DeliveryStatus.SENT],
            skipped=c[DeliveryStatus.SKIPPED],
            deferred=c[DeliveryStatus.DEFERRED],
            failed=c[DeliveryStatus.FAILED],
            bounced=c[DeliveryStatus.BOUNCED],
            queued=c[DeliveryStatus.PENDING] + c[DeliveryStatus.CLAIMED],
            first_claim_at=self.first_claim_at,
            last_finish_at=self.last_finish_at,
        )


def _runs(session: Session, pool_ids: list[int]) -> dict[int, _Run]:
    rows = session.execute(
        select(
            Delivery.pool_id,
            Delivery.status,
            func.count(),
            func.min(Delivery.first_attempt_at),
            func.min(Delivery.claimed_at),
            func.max(Delivery.finished_at),
        )
        .where(Delivery.pool_id.in_(pool_ids))
        .group_by(Delivery.pool_id, Delivery.status)
    )
    runs: dict[int, _Run] = {}
    for pool_id, status, count, first_attempt, first_claimed, last_finish in rows:
        run = runs.setdefault(pool_id, _Run())
        run.counts[status] += count
        first = first_attempt or (first_claimed if status in CLAIMED_STATES else None)
        run.first_claim_at = _pick(min, run.first_claim_at, first)
        run.last_finish_at = _pick(max, run.last_finish_at, last_finish)
    return runs


def _pick(
    choose: Callable[[datetime, datetime], datetime], a: datetime | None, b: datetime | None
) -> datetime | None:
    if a is None or b is None:
        return a or b
    return choose(a, b)


def describe_edition(row: EditionStats) -> list[str]:
    """The lines `digest stats` prints for one edition."""
    counts = (
        f"  {row.day.isoformat()}: {row.papers} papers · due {row.due} · sent {row.sent} · "
        f"skipped {row.skipped} · deferred {row.deferred} · failed {row.failed} · "
        f"bounced {row.bounced}"
    )
    if row.queued:
        counts += f" · still queued {row.queued}"
    if row.first_claim_at is None:
        return [counts, "    not started"]
    start = f"{row.first_claim_at:%Y-%m-%d %H:%M:%S} UTC"
    if row.last_finish_at is None or row.duration is None:
        return [counts, f"    first claim {start}, nothing finished yet"]
    return [
        counts,
        f"    first claim {start} → last finish {row.last_finish_at:%Y-%m-%d %H:%M:%S} UTC "
        f"({format_duration(row.duration)})",
    ]


def format_duration(span: timedelta) -> str:
    """Like 4s, 3m 12s or 2h 05m."""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
