"""Editions: the ranked papers of one day, built once and frozen for every subscriber."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from digest.rank.entries import EditionEntry
from digest.rank.trend import TrendInput, listed_moment, rank_by_trend
from digest.store.models import Edition, EditionItem, Paper, SignalSnapshot


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
    """Papers featured (or, if never featured, published) in the window ending on `day`."""
    start = day - timedelta(days=window_days - 1)
    start_moment = datetime.combine(start, time(0), tzinfo=UTC)
    end_moment = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    query = select(Paper).where(
        or_(
            and_(Paper.listed_on.is_not(None), Paper.listed_on.between(start, day)),
            and_(
                Paper.listed_on.is_(None),
                Paper.published_at >= start_moment,
                Paper.published_at < end_moment,
            ),
        )
    )
    return list(session.scalars(query))


def build_edition(
    session: Session, day: date, *, size: int, window_days: int, now: datetime
) -> Edition | None:
    """Rank the day's candidates and freeze the top `size`; None when there is nothing to rank.

    Two builders racing for the same day both end up with the one stored edition.
    """
    existing = find_edition(session, day)
    if existing is not None:
        return existing
    papers = candidate_papers(session, day, window_days)
    if not papers:
        return None
    snapshots = _latest_snapshots(session, [p.id for p in papers], now)
    inputs = [
        TrendInput(
            paper_id=paper.id,
            upvotes=snapshots[paper.id].upvotes if paper.id in snapshots else 0,
            comments=snapshots[paper.id].comments if paper.id in snapshots else 0,
            stars=snapshots[paper.id].stars if paper.id in snapshots else None,
            listed_at=listed_moment(paper.listed_on, paper.published_at, now),
        )
        for paper in papers
    ]
    ranked = rank_by_trend(inputs, now)[:size]
    edition = Edition(date=day, created_at=now)
    edition.items = [
        EditionItem(paper_id=item.paper_id, rank=rank, score=score)
        for rank, (item, score) in enumerate(ranked, start=1)
    ]
    try:
        with session.begin_nested():
            session.add(edition)
    except IntegrityError:
        raced = find_edition(session, day)
        assert raced is not None
        return raced
    return edition


def find_edition(session: Session, day: date) -> Edition | None:
    return session.scalar(select(Edition).where(Edition.date == day))


def latest_edition(session: Session) -> Edition | None:
    return session.scalar(select(Edition).order_by(Edition.date.desc()).limit(1))


def list_editions(session: Session, limit: int = 60) -> list[Edition]:
    return list(session.scalars(select(Edition).order_by(Edition.date.desc()).limit(limit)))


def edition_entries(session: Session, edition: Edition) -> list[EditionEntry]:
    """The edition's papers in rank order, with the signals seen when it was built."""
    items = list(
        session.scalars(
            select(EditionItem)
            .where(EditionItem.edition_id == edition.id)
            .options(selectinload(EditionItem.paper))
            .order_by(EditionItem.rank)
        )
    )
    snapshots = _latest_snapshots(session, [item.paper_id for item in items], edition.created_at)
    entries = []
    for item in items:
        paper, snapshot = item.paper, snapshots.get(item.paper_id)
        entries.append(
            EditionEntry(
                rank=item.rank,
                score=item.score,
                arxiv_id=paper.arxiv_id,
                title=paper.title,
                abstract=paper.abstract,
                url=paper.url,
                authors=list(paper.authors),
                pdf_url=paper.pdf_url,
                code_url=paper.code_url,
                project_url=paper.project_url,
                published_at=paper.published_at,
                upvotes=snapshot.upvotes if snapshot else 0,
                comments=snapshot.comments if snapshot else 0,
                stars=snapshot.stars if snapshot else None,
                source=paper.source,
                paper_id=paper.id,
                categories=list(paper.categories),
            )
        )
    return entries
