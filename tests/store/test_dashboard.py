"""The dashboard's read-only queries on SQLite and PostgreSQL: past states rebuilt from the
timestamps, sends per minute with quiet minutes as zeros, and each source's latest runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from digest.store.dashboard import fetch_runs_by_source, sent_per_minute, subscribers_by_day
from digest.store.db import Database
from digest.store.models import (
    Delivery,
    DeliveryStatus,
    FetchRun,
    Pool,
    Subscriber,
    SubscriberState,
)

TODAY = date(2026, 11, 27)


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def test_subscribers_by_day_rebuilds_past_states(db: Database) -> None:
    with db.session() as session:
        session.add_all(
            [
                Subscriber(
                    email="a@example.org",
                    state=SubscriberState.UNSUBSCRIBED,
                    created_at=at(23),
                    confirmed_at=at(24),
                    unsubscribed_at=at(26),
                ),
                Subscriber(email="b@example.org", state=SubscriberState.PENDING, created_at=at(25)),
                # Added --confirmed: active with no confirmation time.
                Subscriber(email="c@example.org", state=SubscriberState.ACTIVE, created_at=at(26)),
            ]
        )
    with db.session() as session:
        days = subscribers_by_day(session, TODAY, 5)
    assert [row.day for row in days] == [TODAY - timedelta(days=n) for n in range(4, -1, -1)]
    by_day = {row.day.day: row.by_state for row in days}
    assert (by_day[23]["pending"], by_day[23]["active"]) == (1, 0)
    assert (by_day[24]["pending"], by_day[24]["active"]) == (0, 1)
    assert (by_day[25]["pending"], by_day[25]["active"]) == (1, 1)
    assert (by_day[26]["unsubscribed"], by_day[26]["active"], by_day[26]["pending"]) == (1, 1, 1)


def test_sent_per_minute_counts_each_minute_and_shows_stalls(db: Database) -> None:
    with db.session() as session:
        readers = [Subscriber(email=f"r{i}@example.org") for i in range(4)]
        pool = Pool(date=TODAY)
        session.add_all([*readers, pool])
        session.flush()
        finished = [at(27, 8, 0, 1), at(27, 8, 0, 59), at(27, 8, 3, 10), None]
        for reader, when in zip(readers, finished, strict=True):
            status = DeliveryStatus.SENT if when else DeliveryStatus.PENDING
            session.add(
                Delivery(subscriber_id=reader.id, pool_id=pool.id, status=status, finished_at=when)
            )
    with db.session() as session:
        minutes = sent_per_minute(session, TODAY)
        assert sent_per_minute(session, TODAY - timedelta(days=1)) == []
    assert [(m.minute, n) for m, n in minutes] == [(0, 2), (1, 0), (2, 0), (3, 1)]


def test_fetch_runs_by_source_newest_first(db: Database) -> None:
    with db.session() as session:
        for hour, source in [(1, "hf"), (2, "arxiv"), (3, "hf")]:
            session.add(
                FetchRun(
                    source=source,
                    window_start=TODAY,
                    window_end=TODAY,
                    started_at=at(27, hour),
                    error="boom" if hour == 3 else None,
                )
            )
    with db.session() as session:
        runs = fetch_runs_by_source(session, per_source=5)
        shown = {
            source: [(r.started_at.hour, r.error) for r in rows] for source, rows in runs.items()
        }
    assert list(runs) == ["arxiv", "hf"]
    assert shown == {"arxiv": [(2, None)], "hf": [(3, "boom"), (1, None)]}
