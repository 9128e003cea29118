"""The papers the landing page shows: the head of the latest frozen pool, or, before the
first pool is frozen, the stored papers ranked by trend as they stand (nothing is saved:
freezing a pool from a page view would fix the day's pool before the day's fetch)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from digest.papers import EditionEntry
from digest.rank.trend import rank_by_trend
from digest.settings import RankingSettings
from digest.store.db import Database
from digest.store.pools import (
    candidate_papers,
    edition_entry,
    latest_pool,
    paper_signals,
    pool_entries,
)


@dataclass(frozen=True)
class LandingPapers:
    """The current top papers and the day they are of."""

    day: date
    entries: list[EditionEntry]
    in_archive: bool  # a pool of `day` is frozen, so /archive/<day> shows its edition

    @property
    def is_sample(self) -> bool:
        return bool(self.entries) and all(entry.source == "sample" for entry in self.entries)


def landing_papers(
    db: Database, ranking: RankingSettings, now: datetime, limit: int
) -> LandingPapers | None:
    """The first `limit` papers of the latest pool, else of today's unfrozen ranking; None
    when no paper is stored for the pool window."""
    with db.session() as session:
        pool = latest_pool(session)
        if pool is not None:
            return LandingPapers(pool.date, pool_entries(session, pool, limit=limit), True)
        entries = unfrozen_head(session, ranking, now, limit)
    if not entries:
        return None
    return LandingPapers(now.date(), entries, False)


def unfrozen_head(
    session: Session, ranking: RankingSettings, now: datetime, limit: int
) -> list[EditionEntry]:
    """Today's candidates ranked by trend, as the pool would rank them now (near-duplicates
    are not looked for: a few papers on a page, not an edition)."""
    papers = {paper.id: paper for paper in candidate_papers(session, now.date(), ranking.pool_days)}
    if not papers:
        return []
    signals = paper_signals(session, list(papers.values()), now, ranking.trend.window_hours)
    ranked = rank_by_trend(signals, now, ranking.trend)[:limit]
    return [
        edition_entry(
            papers[signal.paper_id],
            rank,
            score.score,
            upvotes=signal.upvotes,
            comments=signal.comments,
            stars=signal.stars,
        )
        for rank, (signal, score) in enumerate(ranked, start=1)
    ]
