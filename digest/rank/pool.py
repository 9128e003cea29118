"""The candidate pool of an edition: its papers as one sparse tf-idf matrix, built once.

With the `semantic` extra the pool also holds each paper's sentence embedding (`dense`,
stored at ingest) and the model (`embedder`) that embeds what a subscriber types.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from digest.papers import PaperText
from digest.rank.embed import Embedder, encode_papers, paper_text_for_embedding, unit_rows
from digest.rank.features import Follows, features_of, paper_features

# Texts the pool's model encoded at ranking time (typed follows, rated papers from outside
# the pool) are kept, so each is encoded once per pool and process: up to this many
# (some 77 MB of 384-d vectors). Rated papers' tf-idf rows likewise.
ENCODED_KEPT = 50_000


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
        self._encoded: dict[str, npt.NDArray[np.float32]] = {}
        self._rows: dict[PaperText, tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]] = {}

    def __len__(self) -> int:
        return len(self.papers)

    def vectors(self, documents: Sequence[PaperText | Follows]) -> sparse.csr_matrix:
        """Documents in the pool's feature space (words the pool never saw are dropped)."""
        return self.vectorizer.transform(list(documents)).tocsr()

    def paper_vectors(self, papers: Sequence[PaperText]) -> sparse.csr_matrix:
        """`vectors` of papers, each distinct paper transformed once per pool (the same
        rated papers come back in every batch of subscribers)."""
        rows = {paper: self._rows[paper] for paper in papers if paper in self._rows}
        missing = [paper for paper in dict.fromkeys(papers) if paper not in rows]
        if missing:
            fresh = self.vectorizer.transform(missing).tocsr()
            if len(self._rows) + len(missing) > ENCODED_KEPT:
                self._rows.clear()
            for i, paper in enumerate(missing):
                start, stop = fresh.indptr[i], fresh.indptr[i + 1]
                rows[paper] = self._rows[paper] = (
                    fresh.indices[start:stop].astype(np.int32),
                    fresh.data[start:stop].astype(np.float32),
                )
        parts = [rows[paper] for paper in papers]
        pointers = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([indices.size for indices, _ in parts], out=pointers[1:])
        return sparse.csr_matrix(
            (
                np.concatenate([data for _, data in parts] or [np.zeros(0, np.float32)]),
                np.concatenate([indices for indices, _ in parts] or [np.zeros(0, np.int32)]),
                pointers,
            ),
            shape=(len(parts), self.matrix.shape[1]),
        )

    def remember(self, papers: Sequence[PaperText], rows: npt.NDArray[np.float32]) -> None:
        """Vectors of papers outside the pool, as stored at ingest, so that ranking does
        not embed them again (rows that are not finite, or all zero, are left out)."""
        if self.embedder is None or len(self._encoded) + len(papers) > ENCODED_KEPT:
            return
        rows = np.asarray(rows, dtype=np.float32)
        if rows.ndim != 2 or rows.shape != (len(papers), self.embedder.dimensions):
            raise ValueError(f"rows have shape {rows.shape}; expected ({len(papers)}, d)")
        usable: npt.NDArray[np.bool_] = np.asarray(
            np.isfinite(rows).all(axis=1) & (rows != 0).any(axis=1)
        )
        units = unit_rows(np.nan_to_num(rows))
        for i in np.flatnonzero(usable):
            self._encoded.setdefault(paper_text_for_embedding(papers[int(i)]), units[i])

    def encode(self, texts: Iterable[str]) -> npt.NDArray[np.float32]:
        """Unit rows of `texts` from the pool's embedder, each text encoded once per pool."""
        if self.embedder is None:
            raise ValueError("this pool has no embedder")
        texts = list(texts)
        missing = sorted({text for text in texts if text not in self._encoded})
        if missing:
            encoded = np.asarray(self.embedder.encode(missing), dtype=np.float32)
            if len(self._encoded) + len(missing) > ENCODED_KEPT:
                self._encoded.clear()
            self._encoded.update(zip(missing, encoded, strict=True))
            found = dict(zip(missing, encoded, strict=True))
        else:
            found = {}
        out = np.zeros((len(texts), self.embedder.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = found[text] if text in found else self._encoded[text]
        return out


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
