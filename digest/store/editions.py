"""Editions: the ranked candidate pool of one day, built once and frozen."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from digest.papers import EditionEntry, PaperText
from digest.rank.dedupe import duplicate_of
from digest.rank.trend import TrendInput, TrendWeights, listed_moment, rank_by_trend
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


def build_edition(
    session: Session,
    day: date,
    *,
    size: int,
    window_days: int,
    now: datetime,
    weights: TrendWeights | None = None,
    duplicate_similarity: float = 0.85,
) -> Edition | None:
    """Rank the day's candidates by trend, drop near-duplicates, freeze the best `size`.

    The frozen list is the edition's candidate pool: the general edition is its head, and
    each subscriber's edition is chosen from it. None when there is nothing to rank. Two
    builders racing for the same day both end up with the one stored edition.
    """
    existing = find_edition(session, day)
    if existing is not None:
        return existing
    papers = {paper.id: paper for paper in candidate_papers(session, day, window_days)}
    if not papers:
        return None
    chosen = weights or TrendWeights()
    ranked = rank_by_trend(_trend_inputs(session, list(papers.values()), now, chosen), now, chosen)
    duplicates = duplicate_of(
        [paper_text(papers[item.paper_id]) for item, _ in ranked], duplicate_similarity
    )
    kept = [pair for pair, duplicate in zip(ranked, duplicates, strict=True) if duplicate is None]
    edition = Edition(date=day, created_at=now)
    edition.items = [
        EditionItem(
            paper_id=item.paper_id,
            rank=rank,
            score=trend.score,
            upvote_gain=trend.upvote_gain,
            star_gain=trend.star_gain,
        )
        for rank, (item, trend) in enumerate(kept[:size], start=1)
    ]
    try:
        with session.begin_nested():
            session.add(edition)
    except IntegrityError:
        raced = find_edition(session, day)
        assert raced is not None
        return raced
    return edition


def _trend_inputs(
    session: Session, papers: list[Paper], now: datetime, weights: TrendWeights
) -> list[TrendInput]:
    ids = [paper.id for paper in papers]
    latest = _latest_snapshots(session, ids, now)
    before = _latest_snapshots(session, ids, now - timedelta(hours=weights.window_hours))
    inputs = []
    for paper in papers:
        snapshot, earlier = latest.get(paper.id), before.get(paper.id)
        inputs.append(
            TrendInput(
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
    return inputs


def paper_text(paper: Paper) -> PaperText:
    """What ranking reads of a stored paper."""
    return PaperText(
        title=paper.title,
        abstract=paper.abstract,
        keywords=tuple(paper.keywords),
        categories=tuple(paper.categories),
        authors=tuple(paper.authors),
    )


def find_edition(session: Session, day: date) -> Edition | None:
    return session.scalar(select(Edition).where(Edition.date == day))


def latest_edition(session: Session) -> Edition | None:
    return session.scalar(select(Edition).order_by(Edition.date.desc()).limit(1))


def list_editions(session: Session, limit: int = 60) -> list[Edition]:
    return list(session.scalars(select(Edition).order_by(Edition.date.desc()).limit(limit)))


def edition_entries(
    session: Session, edition: Edition, limit: int | None = None
) -> list[EditionEntry]:
    """The edition's papers in trend order (the first `limit`), with the signals seen when
    it was built."""
    query = (
        select(EditionItem)
        .where(EditionItem.edition_id == edition.id)
        .options(selectinload(EditionItem.paper))
        .order_by(EditionItem.rank)
    )
    items = list(session.scalars(query if limit is None else query.limit(limit)))
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
