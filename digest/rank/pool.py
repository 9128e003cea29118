"""The candidate pool of an edition: its papers as one sparse tf-idf matrix, built once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from digest.papers import PaperText
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
    """Papers in trend order, their feature matrix and normalised trend scores."""

    def __init__(self, papers: Sequence[PoolPaper]) -> None:
        if not papers:
            raise ValueError("a candidate pool needs at least one paper")
        self.papers = list(papers)
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
