"""Pools in the store: the candidates of a day, their signals, and the frozen ranked list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from digest.papers import EditionEntry, PaperSignals, PaperText, TrendScore, listed_moment
from digest.store.models import Paper, Pool, PoolItem, SignalSnapshot


def _latest_snapshots(
    session: Session, paper_ids: list[int], as_of: datetime
) -> dict[int, SignalSnapshot]:
    if not paper_ids:
        return {}
    newest = (
        select(SignalSnapshot.paper_id, func.max(SignalSnapshot.id).label("snapshot_id"))
        .where(SignalSnapshot.paper_id.in_(paper_ids), SignalSnapshot.observed_at <= as_of)
        .group_by(SignalSnapshot.paper_id)
        .subquery()
    )
    rows = session.scalars(
        select(SignalSnapshot).join(newest, SignalSnapshot.id == newest.c.snapshot_id)
    )
    return {snapshot.paper_id: snapshot for snapshot in rows}


def candidate_papers(session: Session, day: date, window_days: int) -> list[Paper]:
    """Papers that entered the pool in the window ending on `day`: featured on Hugging Face,
    else announced by arXiv, else published."""
    start = day - timedelta(days=window_days - 1)
    start_moment = datetime.combine(start, time(0), tzinfo=UTC)
    end_moment = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    entered_on = func.coalesce(Paper.listed_on, Paper.announced_on)
    query = select(Paper).where(
        or_(
            entered_on.between(start, day),
            and_(
                entered_on.is_(None),
                Paper.published_at >= start_moment,
                Paper.published_at < end_moment,
            ),
        )
    )
    return list(session.scalars(query))


def paper_signals(
    session: Session, papers: Sequence[Paper], now: datetime, window_hours: float
) -> list[PaperSignals]:
    """Each paper's signals at `now` and `window_hours` before, in the order given."""
    ids = [paper.id for paper in papers]
    latest = _latest_snapshots(session, ids, now)
    before = _latest_snapshots(session, ids, now - timedelta(hours=window_hours))
    signals = []
    for paper in papers:
        snapshot, earlier = latest.get(paper.id), before.get(paper.id)
        signals.append(
            PaperSignals(
                paper_id=paper.id,
                upvotes=snapshot.upvotes if snapshot else 0,
                comments=snapshot.comments if snapshot else 0,
                stars=snapshot.stars if snapshot else None,
                listed_at=listed_moment(
                    paper.listed_on or paper.announced_on, paper.published_at, now
                ),
                upvotes_before=earlier.upvotes if earlier else None,
                stars_before=earlier.stars if earlier else None,
            )
        )
    return signals


def save_pool(session: Session, day: date, ranked: Sequence[TrendScore], now: datetime) -> Pool:
    """Freeze the ranked papers as the pool of `day`; a racing builder's pool wins if first."""
    pool = Pool(date=day, created_at=now)
    pool.items = [
        PoolItem(
            paper_id=trend.paper_id,
            rank=rank,
            score=trend.score,
            upvote_gain=trend.upvote_gain,
            star_gain=trend.star_gain,
        )
        for rank, trend in enumerate(ranked, start=1)
    ]
    try:
        with session.begin_nested():
            session.add(pool)
    except IntegrityError:
        raced = find_pool(session, day)
        assert raced is not None
        return raced
    return pool


def find_pool(session: Session, day: date) -> Pool | None:
    return session.scalar(select(Pool).where(Pool.date == day))


def latest_pool(session: Session) -> Pool | None:
    return session.scalar(select(Pool).order_by(Pool.date.desc()).limit(1))


def pool_candidates(session: Session, pool: Pool) -> list[tuple[TrendScore, PaperText]]:
    """The pool's papers in trend order, each with the score it was frozen with."""
    rows = session.execute(
        select(PoolItem, Paper)
        .join(Paper, Paper.id == PoolItem.paper_id)
        .where(PoolItem.pool_id == pool.id)
        .order_by(PoolItem.rank)
    )
    return [
        (TrendScore(paper.id, item.score, item.upvote_gain, item.star_gain), PaperText.of(paper))
        for item, paper in rows
    ]


def pool_entries(session: Session, pool: Pool, limit: int | None = None) -> list[EditionEntry]:
    """The pool's papers in trend order (the first `limit`), with the signals seen when it
    was built."""
    query = (
        select(PoolItem)
        .where(PoolItem.pool_id == pool.id)
        .options(selectinload(PoolItem.paper))
        .order_by(PoolItem.rank)
    )
    items = list(session.scalars(query if limit is None else query.limit(limit)))
    snapshots = _latest_snapshots(session, [item.paper_id for item in items], pool.created_at)
    entries = []
    for item in items:
        snapshot = snapshots.get(item.paper_id)
        entries.append(
            edition_entry(
                item.paper,
                item.rank,
                item.score,
                upvotes=snapshot.upvotes if snapshot else 0,
                comments=snapshot.comments if snapshot else 0,
                stars=snapshot.stars if snapshot else None,
            )
        )
    return entries


def edition_entry(
    paper: Paper, rank: int, score: float, *, upvotes: int, comments: int, stars: int | None
) -> EditionEntry:
    """A stored paper as an edition shows it, with the signals given."""
    return EditionEntry(
        rank=rank,
        score=score,
        arxiv_id=paper.arxiv_id,
        title=paper.title,
        abstract=paper.abstract,
        url=paper.url,
        authors=list(paper.authors),
        pdf_url=paper.pdf_url,
        code_url=paper.code_url,
        project_url=paper.project_url,
        published_at=paper.published_at,
        upvotes=upvotes,
        comments=comments,
        stars=stars,
        source=paper.source,
        paper_id=paper.id,
        categories=list(paper.categories),
        summary=paper.summary,
        keywords=list(paper.keywords),
        thumbnail_url=paper.thumbnail_url,
        organisation=paper.organisation,
    )
