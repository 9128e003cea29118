"""The public archive's index: each published day with its paper count and top title."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.store.models import Paper, Pool, PoolItem


@dataclass(frozen=True)
class ArchiveDay:
    """One day of the archive: `count` papers in its public edition, led by `top_title`."""

    day: date
    created_at: datetime
    count: int
    top_title: str | None


def archive_days(session: Session, edition_size: int, limit: int) -> list[ArchiveDay]:
    """The newest `limit` days, newest first; a public edition holds `edition_size` papers
    at most (the head of the day's pool)."""
    pools = list(session.scalars(select(Pool).order_by(Pool.date.desc()).limit(limit)))
    if not pools:
        return []
    ids = [pool.id for pool in pools]
    counted = session.execute(
        select(PoolItem.pool_id, func.count(PoolItem.id))
        .where(PoolItem.pool_id.in_(ids))
        .group_by(PoolItem.pool_id)
    )
    counts: dict[int, int] = {pool_id: count for pool_id, count in counted}
    first_rank = (
        select(PoolItem.pool_id, func.min(PoolItem.rank).label("rank"))
        .where(PoolItem.pool_id.in_(ids))
        .group_by(PoolItem.pool_id)
        .subquery()
    )
    leaders = session.execute(
        select(PoolItem.pool_id, Paper.title)
        .join(
            first_rank,
            (PoolItem.pool_id == first_rank.c.pool_id) & (PoolItem.rank == first_rank.c.rank),
        )
        .join(Paper, Paper.id == PoolItem.paper_id)
    )
    titles: dict[int, str] = {pool_id: title for pool_id, title in leaders}
    return [
        ArchiveDay(
            day=pool.date,
            created_at=pool.created_at,
            count=min(counts.get(pool.id, 0), edition_size),
            top_title=titles.get(pool.id),
        )
        for pool in pools
    ]
