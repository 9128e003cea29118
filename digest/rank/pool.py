"""The candidate pool of an edition: its papers as one sparse tf-idf matrix, built once.

With the `semantic` extra the pool also holds each paper's sentence embedding (`dense`,
stored at ingest) and the model (`embedder`) that embeds what a subscriber types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from digest.papers import PaperText
from digest.rank.embed import Embedder, encode_papers, unit_rows
from digest.rank.features import Follows, features_of, paper_features


@dataclass(frozen=True)
class PoolPaper:
    """One candidate with the trend figures ranking and the why-line need."""

    paper_id: int
    text: PaperText
    trend: float
    upvote_gain: int = 0
    star_gain: int = 0


class CandidatePool:
    """Papers in trend order, their feature matrix and normalised trend scores.

    `dense` is None or float32 [len(papers), d] with unit rows aligned with `papers`. A row
    of zeros (or not finite) marks a paper without a vector: with an `embedder` those are
    embedded now, without one the pool has no dense rows at all (`dense` None), since
    ranking cannot compare papers it has vectors for with papers it has none for. No `dense`
    but an `embedder` embeds every paper (the evaluation's way; the store passes `dense`).
    """

    def __init__(
        self,
        papers: Sequence[PoolPaper],
        dense: npt.NDArray[np.float32] | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        if not papers:
            raise ValueError("a candidate pool needs at least one paper")
        self.papers = list(papers)
        self.embedder = embedder
        self.dense = _complete_dense(self.papers, dense, embedder)
        self.index = {paper.paper_id: i for i, paper in enumerate(self.papers)}
        self.vectorizer = TfidfVectorizer(analyzer=features_of, sublinear_tf=True, dtype=np.float32)
        self.matrix: sparse.csr_matrix = self.vectorizer.fit_transform(
            [paper.text for paper in self.papers]
        ).tocsr()
        trend = np.array([max(paper.trend, 0.0) for paper in self.papers], dtype=np.float32)
        top = float(trend.max()) if trend.size else 0.0
        self.trend: npt.NDArray[np.float32] = trend / top if top > 0 else trend
        self.feature_sets = [frozenset(paper_features(paper.text)) for paper in self.papers]

    def __len__(self) -> int:
        return len(self.papers)

    def vectors(self, documents: Sequence[PaperText | Follows]) -> sparse.csr_matrix:
        """Documents in the pool's feature space (words the pool never saw are dropped)."""
        return self.vectorizer.transform(list(documents)).tocsr()


def _complete_dense(
    papers: list[PoolPaper], dense: npt.NDArray[np.float32] | None, embedder: Embedder | None
) -> npt.NDArray[np.float32] | None:
    if dense is None:
        return encode_papers(embedder, [p.text for p in papers]) if embedder else None
    rows = np.asarray(dense, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[0] != len(papers):
        raise ValueError(f"dense has shape {rows.shape}; expected ({len(papers)}, d)")
    missing = ~np.isfinite(rows).all(axis=1) | ~rows.any(axis=1)
    if missing.any():
        if embedder is None or embedder.dimensions != rows.shape[1]:
            return None
        rows = rows.copy()
        rows[missing] = encode_papers(embedder, [papers[i].text for i in np.flatnonzero(missing)])
    return unit_rows(rows)
