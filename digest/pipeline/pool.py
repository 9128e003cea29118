"""The pool of a day: rank the candidates by trend, drop near-duplicates, freeze the best.

Every subscriber's edition of the day is picked from its pool. A process keeps the last few
pools it used ready for ranking (the tf-idf matrix is fitted once per pool). When its papers
have stored embeddings for the configured model, the pool gets them and the model.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from digest.errors import ConfigError
from digest.papers import EditionEntry, PaperText
from digest.rank.dedupe import duplicate_of
from digest.rank.embed import Embedder, from_bytes
from digest.rank.pool import CandidatePool, PoolPaper
from digest.rank.trend import rank_by_trend
from digest.semantic import load_embedder, stored_model_name
from digest.settings import EmbeddingSettings, RankingSettings, Settings, get_settings
from digest.store.db import Database
from digest.store.models import Pool
from digest.store.papers import paper_embeddings
from digest.store.pools import (
    candidate_papers,
    find_pool,
    paper_signals,
    pool_candidates,
    pool_entries,
    save_pool,
)

POOLS_KEPT = 4


@dataclass(frozen=True)
class DayPool:
    """A frozen pool ready to pick editions from; kept per process."""

    day: date
    pool_id: int
    candidates: CandidatePool
    entries: list[EditionEntry]  # the pool's papers in trend order
    # Copies of its papers sent before (digest.pipeline.editions) are looked for this many
    # days back, and found at this share of common word pairs.
    copy_lookback_days: int = 90
    copy_resemblance: float = 0.5
    # The stored name of the model that made `candidates.dense` (None without vectors).
    embedding_model: str | None = None
    # Renderers built for this pool, so their inlined fragments serve every batch.
    renderers: dict[Any, Any] = field(default_factory=dict, compare=False)

    @property
    def is_sample(self) -> bool:
        return bool(self.entries) and all(e.source == "sample" for e in self.entries)


_kept: OrderedDict[tuple[str, int], DayPool] = OrderedDict()


def build_pool(session: Session, day: date, ranking: RankingSettings, now: datetime) -> Pool | None:
    """The pool of `day`: found if it was frozen already, else ranked and frozen now.

    None when there is nothing to rank. Two builders racing for the same day both end up
    with the one stored pool.
    """
    existing = find_pool(session, day)
    if existing is not None:
        return existing
    papers = {paper.id: paper for paper in candidate_papers(session, day, ranking.pool_days)}
    if not papers:
        return None
    signals = paper_signals(session, list(papers.values()), now, ranking.trend.window_hours)
    ranked = rank_by_trend(signals, now, ranking.trend)
    duplicates = duplicate_of(
        [PaperText.of(papers[item.paper_id]) for item, _ in ranked],
        ranking.near_duplicate_similarity,
        resemblance=ranking.near_duplicate_resemblance,
    )
    kept = [
        trend for (_, trend), duplicate in zip(ranked, duplicates, strict=True) if duplicate is None
    ]
    return save_pool(session, day, kept[: ranking.pool_size], now)


def day_pool(db: Database, ranking: RankingSettings, day: date, now: datetime) -> DayPool | None:
    """The pool of `day` ready for ranking, built now if need be; None if there are no papers."""
    with db.session() as session:
        pool = build_pool(session, day, ranking, now)
        if pool is None:
            return None
        return _ready(db, session, pool, ranking)


def pool_by_id(
    db: Database, pool_id: int, ranking: RankingSettings | None = None
) -> DayPool | None:
    """A stored pool ready for ranking; None if it is gone.

    Without `ranking`, the process's settings (a caller should pass its own).
    """
    cached = _cached(db, pool_id)
    if cached is not None:
        return cached
    with db.session() as session:
        pool = session.get(Pool, pool_id)
        if pool is None:
            return None
        return _ready(db, session, pool, ranking or _process_ranking())


def _process_ranking() -> RankingSettings:
    """The process's ranking settings; with invalid ones, the defaults without embeddings."""
    try:
        return get_settings().ranking
    except ConfigError:
        defaults = Settings.model_construct().ranking  # not validated: nothing to read
        return replace(defaults, embedding=replace(defaults.embedding, model="off"))


def _ready(db: Database, session: Session, pool: Pool, ranking: RankingSettings) -> DayPool | None:
    cached = _cached(db, pool.id)
    if cached is not None:
        return cached
    candidates = [
        PoolPaper(
            paper_id=trend.paper_id,
            text=text,
            trend=trend.score,
            upvote_gain=trend.upvote_gain,
            star_gain=trend.star_gain,
        )
        for trend, text in pool_candidates(session, pool)
    ]
    if not candidates:
        return None
    dense, embedder = _semantic(session, [c.paper_id for c in candidates], ranking.embedding)
    ready = DayPool(
        pool.date,
        pool.id,
        CandidatePool(candidates, dense=dense, embedder=embedder),
        pool_entries(session, pool),
        copy_lookback_days=ranking.near_duplicate_lookback_days,
        copy_resemblance=ranking.near_duplicate_resemblance,
        embedding_model=stored_model_name(ranking.embedding) if dense is not None else None,
    )
    _kept[(db.instance, pool.id)] = ready
    while len(_kept) > POOLS_KEPT:
        _kept.popitem(last=False)
    return ready


def _cached(db: Database, pool_id: int) -> DayPool | None:
    key = (db.instance, pool_id)
    cached = _kept.get(key)
    if cached is not None:
        _kept.move_to_end(key)
    return cached


def _semantic(
    session: Session, paper_ids: list[int], settings: EmbeddingSettings
) -> tuple[npt.NDArray[np.float32] | None, Embedder | None]:
    """The papers' stored vectors (zero rows where missing) and the model that made them.

    (None, None) when semantic ranking is off, or none of the papers has a vector of the
    configured model: the model is loaded only for a pool it can serve.
    """
    model = stored_model_name(settings)
    if model is None:
        return None, None
    stored = paper_embeddings(session, paper_ids, model)
    if not stored:
        return None, None
    embedder = load_embedder(settings)
    if embedder is None:
        return None, None
    dense = np.zeros((len(paper_ids), embedder.dimensions), dtype=np.float32)
    for row, paper_id in enumerate(paper_ids):
        vector = from_bytes(stored.get(paper_id, b""), embedder.dimensions)
        if vector is not None:
            dense[row] = vector
    return dense, embedder


def remember_stored_vectors(session: Session, pool: DayPool, papers: dict[int, PaperText]) -> None:
    """Give the pool the stored vectors of papers outside it that ranking will read (what
    other readers rated up), so that it does not embed them again."""
    candidates = pool.candidates
    if pool.embedding_model is None or candidates.embedder is None or not papers:
        return
    stored = paper_embeddings(session, list(papers), pool.embedding_model)
    dimensions = candidates.embedder.dimensions
    found = {i: from_bytes(stored[i], dimensions) for i in stored}
    vectors = {i: vector for i, vector in found.items() if vector is not None}
    if vectors:
        ids = sorted(vectors)
        candidates.remember([papers[i] for i in ids], np.stack([vectors[i] for i in ids]))
