"""Each subscriber's edition: trend blended with relevance, computed in bulk.

For a chunk of subscribers at a time, one sparse product gives the cosine of every
(subscriber, paper) pair; blending, masking and the top-k choice are numpy operations over
that block, so the cost grows linearly with the number of subscribers.

    profile   = unit(follows) + feedback_weight * (mean(liked) - mean(disliked))
    relevance = profile · paper                       (tf-idf cosine space)
    score     = (1 - w) * trend / max(trend) + w * relevance / max(relevance)
                (w = relevance_weight, or 0 for an empty profile; max over the pool)

A paper qualifies for a subscriber when it is not already received, is not like what they
marked "less like this", and, if they said what they want (follows or "more like this"),
either matches it (relevance > MIN_RELEVANCE) or is one of the day's `trending_slots` top
papers. A subscriber who follows nothing and rated nothing gets the pure trending list.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.preprocessing import normalize

from digest.papers import PaperText
from digest.rank.features import Follows
from digest.rank.pool import CandidatePool
from digest.settings import BlendSettings

MIN_RELEVANCE = 0.02
CHUNK_SUBSCRIBERS = 2048


@dataclass(frozen=True)
class SubscriberProfile:
    subscriber_id: int
    follows: Follows = field(default_factory=Follows)
    size: int = 10
    liked: Sequence[PaperText] = ()
    disliked: Sequence[PaperText] = ()
    received: frozenset[int] = frozenset()  # paper ids already sent to this subscriber

    @property
    def personal(self) -> bool:
        """Has anything that should move the ranking away from pure trend."""
        return self.interested or bool(self.disliked)

    @property
    def interested(self) -> bool:
        """Has said what they want (follows or "more like this")."""
        return not self.follows.empty or bool(self.liked)


@dataclass(frozen=True)
class Pick:
    pool_index: int
    score: float
    relevance: float


def personalize(
    pool: CandidatePool,
    profiles: Sequence[SubscriberProfile],
    blend: BlendSettings,
    chunk: int = CHUNK_SUBSCRIBERS,
) -> list[list[Pick]]:
    """The picks of every profile, best first; deterministic for the same inputs."""
    results: list[list[Pick]] = []
    for start in range(0, len(profiles), chunk):
        results.extend(_personalize_chunk(pool, profiles[start : start + chunk], blend))
    return results


def _profile_matrix(
    pool: CandidatePool, profiles: Sequence[SubscriberProfile], feedback_weight: float
) -> sparse.csr_matrix:
    follows = normalize(pool.vectors([p.follows for p in profiles]))
    if feedback_weight == 0 or not any(p.liked or p.disliked for p in profiles):
        return follows.tocsr()
    rows, cols, values = [], [], []
    rated = [(i, text, 1.0 / len(p.liked)) for i, p in enumerate(profiles) for text in p.liked]
    rated += [
        (i, text, -1.0 / len(p.disliked)) for i, p in enumerate(profiles) for text in p.disliked
    ]
    vectors = pool.vectors([text for _, text, _ in rated])
    for row, (owner, _, weight) in enumerate(rated):
        start, end = vectors.indptr[row], vectors.indptr[row + 1]
        rows.extend([owner] * (end - start))
        cols.extend(vectors.indices[start:end])
        values.extend(vectors.data[start:end] * weight)
    feedback = sparse.csr_matrix(
        (np.asarray(values, dtype=np.float32), (rows, cols)), shape=follows.shape
    )
    return (follows + feedback_weight * feedback).tocsr()


def _personalize_chunk(
    pool: CandidatePool, profiles: Sequence[SubscriberProfile], blend: BlendSettings
) -> Iterator[list[Pick]]:
    profile = _profile_matrix(pool, profiles, blend.feedback_weight)
    relevance = np.asarray((profile @ pool.matrix.T).todense(), dtype=np.float32)
    fresh = np.ones(relevance.shape, dtype=bool)
    for row, subscriber in enumerate(profiles):
        for paper_id in subscriber.received:
            index = pool.index.get(paper_id)
            if index is not None:
                fresh[row, index] = False

    personal = np.array([p.personal for p in profiles])
    weight = np.where(personal, blend.relevance_weight, 0.0).astype(np.float32)[:, None]
    # Relevance is rescaled per subscriber so their best new match counts as much as the
    # day's top trend: a short profile's cosines are small in absolute terms, and a paper
    # they already have (often the very one they rated up) must not set the scale.
    best = np.where(fresh, relevance, -np.inf).max(axis=1, keepdims=True)
    scaled = relevance / np.where(best > MIN_RELEVANCE, best, 1.0)
    score = (1.0 - weight) * pool.trend[None, :] + weight * scaled

    trending = np.zeros(len(pool), dtype=bool)
    trending[: blend.trending_slots] = True  # the pool is in trend order
    interested = np.array([p.interested for p in profiles])[:, None]
    not_disliked = relevance >= -MIN_RELEVANCE
    qualifies = fresh & np.where(
        interested, (relevance > MIN_RELEVANCE) | (trending & not_disliked), not_disliked
    )
    score = np.where(qualifies, score, -np.inf)
    for row, subscriber in enumerate(profiles):
        yield _top(score[row], relevance[row], subscriber.size)


def _top(scores: npt.NDArray[np.float32], relevance: npt.NDArray[np.float32], k: int) -> list[Pick]:
    k = min(k, scores.size)
    if k <= 0:
        return []
    candidates = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
    # Ties go to the paper higher in the trend order (lower pool index): deterministic.
    ordered = candidates[np.lexsort((candidates, -scores[candidates]))]
    return [
        Pick(int(i), float(scores[i]), float(relevance[i]))
        for i in ordered
        if np.isfinite(scores[i])
    ]
