"""Read-only queries for the operator dashboard: subscribers over time, an edition's send
rate, the outbox, bounces and complaints, and the fetch runs of each source."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from digest.store.models import (
    Delivery,
    DeliveryStatus,
    FetchRun,
    OutboxEmail,
    Pool,
    Subscriber,
    SubscriberState,
)

SUPPRESSED_STATES = (SubscriberState.BOUNCED, SubscriberState.COMPLAINED)


@dataclass(frozen=True)
class DayCounts:
    """Subscribers in each state at the end of one day (UTC)."""

    day: date
    by_state: dict[str, int]


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    email: str | None
    status: str
    attempts: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class ReportRow:
    """A bounce or complaint: a suppressed subscriber, or a digest copy that bounced."""

    email: str
    what: str  # "bounced", "complained" or "bounced copy of YYYY-MM-DD"
    detail: str | None
    at: datetime


def _state_at(
    end: datetime,
    state: SubscriberState,
    created_at: datetime,
    confirmed_at: datetime | None,
    unsubscribed_at: datetime | None,
    updated_at: datetime,
) -> str | None:
    """A subscriber's state at `end`, rebuilt from its timestamps (None: not yet there).

    A bounce has no timestamp of its own, so a bounced address counts as bounced from its
    last change on."""
    if created_at > end:
        return None
    if state is SubscriberState.ACTIVE and confirmed_at is None:
        confirmed_at = created_at  # added --confirmed by an operator: active from the start
    if state in SUPPRESSED_STATES and updated_at <= end:
        return state.value
    if unsubscribed_at is not None and unsubscribed_at <= end:
        return SubscriberState.UNSUBSCRIBED.value
    if confirmed_at is not None and confirmed_at <= end:
        return SubscriberState.ACTIVE.value
    return SubscriberState.PENDING.value


def subscribers_by_day(session: Session, today: date, days: int) -> list[DayCounts]:
    """Subscribers by state at the end of each of the last `days` days, oldest first."""
    rows = list(
        session.execute(
            select(
                Subscriber.state,
                Subscriber.created_at,
                Subscriber.confirmed_at,
                Subscriber.unsubscribed_at,
                Subscriber.updated_at,
            )
        )
    )
    result = []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
        counts: Counter[str] = Counter({state.value: 0 for state in SubscriberState})
        for row in rows:
            state = _state_at(end - timedelta(microseconds=1), *row)
            if state is not None:
                counts[state] += 1
        result.append(DayCounts(day, dict(counts)))
    return result


def sent_per_minute(session: Session, pool_day: date) -> list[tuple[datetime, int]]:
    """Digest copies of one edition sent in each minute, from its first to its last send."""
    finished = session.scalars(
        select(Delivery.finished_at)
        .join(Pool, Pool.id == Delivery.pool_id)
        .where(
            Pool.date == pool_day,
            Delivery.status == DeliveryStatus.SENT,
            Delivery.finished_at.is_not(None),
        )
    )
    minutes = Counter(at.replace(second=0, microsecond=0) for at in finished if at is not None)
    if not minutes:
        return []
    first, last = min(minutes), max(minutes)
    span = int((last - first).total_seconds() // 60)
    # Quiet minutes are zeros, so the chart shows a stall as a stall.
    return [
        (first + timedelta(minutes=i), minutes.get(first + timedelta(minutes=i), 0))
        for i in range(span + 1)
    ]


def recent_outbox(session: Session, limit: int = 30) -> list[OutboxRow]:
    """The newest subscriber emails of the outbox, with the address each goes to."""
    rows = session.execute(
        select(OutboxEmail, func.coalesce(OutboxEmail.email, Subscriber.email))
        .outerjoin(Subscriber, Subscriber.id == OutboxEmail.subscriber_id)
        .order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc())
        .limit(limit)
    )
    return [
        OutboxRow(
            email.id,
            email.kind,
            address,
            email.status.value,
            email.attempts,
            email.error,
            email.created_at,
            email.finished_at,
        )
        for email, address in rows
    ]


def recent_reports(session: Session, limit: int = 30) -> list[ReportRow]:
    """Suppressed addresses and bounced digest copies, newest first."""
    suppressed = session.execute(
        select(Subscriber.email, Subscriber.state, Subscriber.updated_at)
        .where(Subscriber.state.in_(SUPPRESSED_STATES))
        .order_by(Subscriber.updated_at.desc())
        .limit(limit)
    )
    reports = [ReportRow(email, state.value, None, at) for email, state, at in suppressed]
    recipient = aliased(Subscriber)
    bounced = session.execute(
        select(recipient.email, Pool.date, Delivery.error, Delivery.finished_at)
        .join(recipient, recipient.id == Delivery.subscriber_id)
        .join(Pool, Pool.id == Delivery.pool_id)
        .where(Delivery.status == DeliveryStatus.BOUNCED, Delivery.finished_at.is_not(None))
        .order_by(Delivery.finished_at.desc())
        .limit(limit)
    )
    for email, day, error, at in bounced:
        if at is not None:
            reports.append(ReportRow(email, f"bounced copy of {day.isoformat()}", error, at))
    reports.sort(key=lambda report: report.at, reverse=True)
    return reports[:limit]


def fetch_runs_by_source(session: Session, per_source: int = 5) -> dict[str, list[FetchRun]]:
    """Each source's latest runs, newest first."""
    sources = session.scalars(select(FetchRun.source).distinct().order_by(FetchRun.source))
    return {
        source: list(
            session.scalars(
                select(FetchRun)
                .where(FetchRun.source == source)
                .order_by(FetchRun.started_at.desc(), FetchRun.id.desc())
                .limit(per_source)
            )
        )
        for source in list(sources)
    }
