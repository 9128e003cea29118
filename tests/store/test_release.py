"""Releasing the rows of a sender that stopped: only expired leases, in-flight ones counted
as uncertain, and one pool only when asked; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from digest.pipeline.plan import plan_deliveries
from digest.pipeline.queue import release_stale_claims
from digest.settings import Settings
from digest.store.db import Database
from digest.store.deliveries import (
    DeliveryRecorder,
    claim_batch,
    held_rows,
    pools_with_work,
    release_expired_claims,
)
from digest.store.models import Delivery, DeliveryStatus
from digest.store.pools import find_pool
from tests.factories import begin_sending, make_paper, make_subscriber

DAY = date(2026, 11, 25)
OTHER_DAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def _queue(db: Database, settings: Settings, days: list[date], readers: int) -> None:
    with db.session() as session:
        for day in days:
            make_paper(session, listed_on=day, upvotes=10)
        for i in range(readers):
            make_subscriber(session, f"reader{i}@example.org")
    for day in days:
        plan_deliveries(db, settings, NOW, edition=day)


def _pool_id(db: Database, day: date) -> int:
    with db.session() as session:
        pool = find_pool(session, day)
        assert pool is not None
        return pool.id


def _claim_and_start_first(db: Database, pool_id: int, at: datetime, lease: int) -> None:
    claims = claim_batch(db, pool_id, at, 100, lease)
    with DeliveryRecorder.open(db) as recorder:
        assert begin_sending(recorder, claims[0], at)


def _rows(db: Database) -> list[tuple[int, DeliveryStatus, int]]:
    with db.session() as session:
        rows = session.execute(
            select(Delivery.pool_id, Delivery.status, Delivery.uncertain).order_by(Delivery.id)
        ).all()
    return [(pool_id, status, uncertain) for pool_id, status, uncertain in rows]


def test_release_gives_back_expired_rows_and_counts_the_in_flight_one_as_uncertain(
    db: Database, settings: Settings
) -> None:
    _queue(db, settings, [DAY], readers=3)
    pool_id = _pool_id(db, DAY)
    _claim_and_start_first(db, pool_id, NOW, lease=60)
    later = NOW + timedelta(seconds=61)

    released = release_expired_claims(db, later)

    assert (released.rows, released.in_flight) == (3, 1)
    assert _rows(db) == [
        (pool_id, DeliveryStatus.PENDING, 1),
        (pool_id, DeliveryStatus.PENDING, 0),
        (pool_id, DeliveryStatus.PENDING, 0),
    ]
    assert held_rows(db, later).expired == 0
    # Claimed again, the in-flight row is not counted a second time.
    assert len(claim_batch(db, pool_id, later, 100, 60)) == 3
    assert [uncertain for _, _, uncertain in _rows(db)] == [1, 0, 0]


def test_release_leaves_a_live_senders_rows_alone(db: Database, settings: Settings) -> None:
    _queue(db, settings, [DAY], readers=2)
    _claim_and_start_first(db, _pool_id(db, DAY), NOW, lease=600)

    released = release_expired_claims(db, NOW + timedelta(seconds=599))

    assert (released.rows, released.in_flight) == (0, 0)
    assert {status for _, status, _ in _rows(db)} == {DeliveryStatus.CLAIMED}
    assert held_rows(db, NOW + timedelta(seconds=599)).live == 2


def test_release_of_one_edition_leaves_the_other_pools_rows_held(
    db: Database, settings: Settings
) -> None:
    _queue(db, settings, [DAY, OTHER_DAY], readers=2)
    first, second = _pool_id(db, DAY), _pool_id(db, OTHER_DAY)
    _claim_and_start_first(db, first, NOW, lease=60)
    _claim_and_start_first(db, second, NOW, lease=60)
    later = NOW + timedelta(seconds=61)

    released = release_stale_claims(db, later, OTHER_DAY)

    assert (released.rows, released.in_flight) == (2, 1)
    by_pool = {(pool_id, status) for pool_id, status, _ in _rows(db)}
    assert by_pool == {(first, DeliveryStatus.CLAIMED), (second, DeliveryStatus.PENDING)}
    assert pools_with_work(db, later) == [(first, 2), (second, 2)]
    everything = release_stale_claims(db, later, None)
    assert (everything.rows, everything.in_flight) == (2, 1)


def test_release_of_a_day_without_a_pool_releases_nothing(db: Database, settings: Settings) -> None:
    _queue(db, settings, [DAY], readers=1)
    _claim_and_start_first(db, _pool_id(db, DAY), NOW, lease=60)

    released = release_stale_claims(db, NOW + timedelta(hours=1), date(2026, 1, 1))

    assert (released.rows, released.in_flight) == (0, 0)
    assert {status for _, status, _ in _rows(db)} == {DeliveryStatus.CLAIMED}
