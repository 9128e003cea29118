"""Each subscriber's edition: trend blended with relevance, computed in bulk.

For a chunk of subscribers at a time, one sparse product gives the tf-idf cosine of every
(subscriber, paper) pair, and, when the pool has embeddings, one dense product the
embedding cosine; blending, masking and the top-k choice are numpy operations over that
block, so the cost grows linearly with the number of subscribers.

    profile   = unit(unit(follows) + f * unit(mean liked) - g * f * unit(mean disliked))
                (once in tf-idf space, once in embedding space)
    relevance = (1 - d) * z(profile · paper) + d * z(dense profile · dense paper)
                (z: standardised over the pool, per subscriber; d = dense_weight, 0 without
                embeddings) or, with `learned_min_ratings` ratings or more, z of a linear
                model trained on their ratings (digest.rank.learned)
    score     = (1 - w) * trend / max(trend) + w * relevance / max(relevance)
                (w = relevance_weight, or 0 for an empty profile; max over the fresh papers)

A paper qualifies for a subscriber when it is not already received, is not like what they
marked "less like this" (closer to those papers than to what they want, and among the
pool's most similar to them), and, if they said what they want (follows or "more like
this"), either matches it (shares a feature with their profile, or is among the pool's
closest in embedding space) or is one of the day's `trending_slots` top papers. The best
qualifying papers fill the edition: no fixed relevance threshold cuts it short. A
subscriber who follows nothing and rated nothing gets the pure trending list.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.preprocessing import normalize

from digest.papers import PaperText
from digest.rank.embed import Embedder, paper_text_for_embedding
from digest.rank.features import Follows
from digest.rank.learned import background_sample, learned_scores
from digest.rank.pool import CandidatePool
from digest.settings import BlendSettings

MIN_RELEVANCE = 0.02  # the cosine above which a pick counts as like what they rated up
CHUNK_SUBSCRIBERS = 2048
DISLIKE_WEIGHT = 0.5  # "less like this" says less than "more like this" (g above)
DISLIKE_Z = 1.5  # excluded: leans to the disliked side and this many sd above the pool
DENSE_MATCH_Z = 1.5  # a paper this many sd closer than the pool's mean matches in meaning

Array = npt.NDArray[np.float32]


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
    relevance: float  # cosine of profile and paper (the tf-idf/embedding blend), -1..1


def personalize(
    pool: CandidatePool,
    profiles: Sequence[SubscriberProfile],
    blend: BlendSettings,
    chunk: int = CHUNK_SUBSCRIBERS,
) -> list[list[Pick]]:
    """The picks of every profile, best first; deterministic for the same inputs."""
    space = _DenseSpace.of(pool)
    results: list[list[Pick]] = []
    for start in range(0, len(profiles), chunk):
        results.extend(_personalize_chunk(pool, space, profiles[start : start + chunk], blend))
    return results


@dataclass
class _DenseSpace:
    """The pool's embedding rows and the encoder for what is not in the pool."""

    rows: Array
    encoder: Embedder
    by_text: dict[PaperText, int]

    @classmethod
    def of(cls, pool: CandidatePool) -> _DenseSpace | None:
        rows, encoder = pool.dense, pool.embedder
        if rows is None or encoder is None:
            return None
        by_text: dict[PaperText, int] = {}
        for i, paper in enumerate(pool.papers):
            by_text.setdefault(paper.text, i)
        return cls(np.asarray(rows, dtype=np.float32), encoder, by_text)

    def papers(self, texts: Sequence[PaperText]) -> Array:
        """Unit rows for papers: the pool's row when the paper is in it, else encoded."""
        out = np.zeros((len(texts), self.rows.shape[1]), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            index = self.by_text.get(text)
            if index is not None:
                out[i] = self.rows[index]
            else:
                missing.setdefault(paper_text_for_embedding(text), []).append(i)
        self._encode_into(out, missing)
        return out

    def topics(self, topics: Sequence[str]) -> Array:
        """Unit rows for typed topics, each distinct one encoded once."""
        out = np.zeros((len(topics), self.rows.shape[1]), dtype=np.float32)
        wanted: dict[str, list[int]] = {}
        for i, topic in enumerate(topics):
            wanted.setdefault(topic.strip(), []).append(i)
        self._encode_into(out, wanted)
        return out

    def _encode_into(self, out: Array, wanted: dict[str, list[int]]) -> None:
        if not wanted:
            return
        texts = sorted(wanted)
        encoded = np.asarray(self.encoder.encode(texts), dtype=np.float32)
        for text, row in zip(texts, encoded, strict=True):
            out[wanted[text]] = row


def _mean_rows(owners: list[int], vectors: sparse.csr_matrix, count: int) -> sparse.csr_matrix:
    """Row i: the unit mean of the vectors owned by subscriber i (zero if none)."""
    if not owners:
        return sparse.csr_matrix((count, vectors.shape[1]), dtype=np.float32)
    assign = sparse.csr_matrix(
        (np.ones(len(owners), dtype=np.float32), (owners, np.arange(len(owners)))),
        shape=(count, len(owners)),
    )
    return normalize(assign @ vectors).tocsr()


def _dense_mean_rows(owners: list[int], vectors: Array, count: int) -> Array:
    out = np.zeros((count, vectors.shape[1]), dtype=np.float32)
    if owners:
        np.add.at(out, np.asarray(owners), vectors)
    return np.asarray(normalize(out), dtype=np.float32)


@dataclass
class _Sides:
    """Per subscriber: what they want (follows + liked) and what they do not (disliked)."""

    want: sparse.csr_matrix
    avoid: sparse.csr_matrix
    dense_want: Array | None
    dense_avoid: Array | None


def _sides(
    pool: CandidatePool,
    space: _DenseSpace | None,
    profiles: Sequence[SubscriberProfile],
    feedback_weight: float,
) -> _Sides:
    count = len(profiles)
    follows = normalize(pool.vectors([p.follows for p in profiles])).tocsr()
    liked = [(i, text) for i, p in enumerate(profiles) for text in p.liked]
    disliked = [(i, text) for i, p in enumerate(profiles) for text in p.disliked]
    rated = [text for _, text in liked + disliked]
    vectors = pool.vectors(rated) if rated else None
    f = feedback_weight
    want, avoid = follows, sparse.csr_matrix(follows.shape, dtype=np.float32)
    if vectors is not None and f > 0:
        want = follows + f * _mean_rows([i for i, _ in liked], vectors[: len(liked)], count)
        avoid = (
            f * DISLIKE_WEIGHT * _mean_rows([i for i, _ in disliked], vectors[len(liked) :], count)
        )
    if space is None:
        return _Sides(want.tocsr(), avoid.tocsr(), None, None)

    topics = [(i, topic) for i, p in enumerate(profiles) for topic in p.follows.topics]
    dense_follows = _dense_mean_rows(
        [i for i, _ in topics], space.topics([t for _, t in topics]), count
    )
    dense_want = dense_follows
    dense_avoid = np.zeros_like(dense_follows)
    if rated and f > 0:
        rows = space.papers(rated)
        dense_want = dense_follows + f * _dense_mean_rows(
            [i for i, _ in liked], rows[: len(liked)], count
        )
        dense_avoid = (
            f
            * DISLIKE_WEIGHT
            * _dense_mean_rows([i for i, _ in disliked], rows[len(liked) :], count)
        )
    return _Sides(want.tocsr(), avoid.tocsr(), dense_want, dense_avoid)


def _standard(scores: Array) -> Array:
    """Each row as standard scores over the pool, so tf-idf and embedding cosines blend."""
    mean = scores.mean(axis=1, keepdims=True)
    spread = scores.std(axis=1, keepdims=True)
    standard: Array = np.asarray((scores - mean) / np.where(spread > 1e-9, spread, 1.0), np.float32)
    return standard


def _dense_product(a: sparse.csr_matrix, b: sparse.csr_matrix) -> Array:
    return np.asarray((a @ b.T).todense(), dtype=np.float32)


def _learned_relevance(
    pool: CandidatePool,
    space: _DenseSpace | None,
    profiles: Sequence[SubscriberProfile],
    blend: BlendSettings,
) -> dict[int, Array]:
    """Standardised model scores for the subscribers with enough ratings, by chunk row."""
    trained = [
        row
        for row, p in enumerate(profiles)
        if p.liked and len(p.liked) + len(p.disliked) >= blend.learned_min_ratings > 0
    ]
    if not trained:
        return {}
    d = blend.dense_weight if space is not None else 0.0
    sparse_part = np.float32(np.sqrt(1.0 - d))
    dense_part = np.float32(np.sqrt(d))

    def features(matrix: sparse.csr_matrix, dense: Array | None) -> sparse.csr_matrix:
        if dense is None or d == 0:
            return matrix
        return sparse.hstack([matrix * sparse_part, sparse.csr_matrix(dense * dense_part)]).tocsr()

    pool_features = features(pool.matrix, space.rows if space is not None else None)
    background = background_sample(len(pool))
    by_text = {paper.text: i for i, paper in reversed(list(enumerate(pool.papers)))}
    scores: dict[int, Array] = {}
    for row in trained:
        profile = profiles[row]
        texts = list(profile.liked) + list(profile.disliked)
        dense = space.papers(texts) if space is not None and d > 0 else None
        rated = features(pool.vectors(texts), dense)
        positives = rated[: len(profile.liked)]
        if not profile.follows.empty:
            follow_dense = None
            if dense is not None and space is not None:
                follow_dense = _dense_mean_rows(
                    [0] * len(profile.follows.topics), space.topics(profile.follows.topics), 1
                )
            follow = features(normalize(pool.vectors([profile.follows])).tocsr(), follow_dense)
            positives = sparse.vstack([positives, follow]).tocsr()
        in_pool = {by_text[t] for t in profile.liked if t in by_text}
        negatives_background = np.array([i for i in background if i not in in_pool], dtype=np.int64)
        model = learned_scores(
            pool_features, positives, rated[len(profile.liked) :], negatives_background
        )
        scores[row] = _standard(model[None, :])[0]
    return scores


def _personalize_chunk(
    pool: CandidatePool,
    space: _DenseSpace | None,
    profiles: Sequence[SubscriberProfile],
    blend: BlendSettings,
) -> Iterator[list[Pick]]:
    sides = _sides(pool, space, profiles, blend.feedback_weight)
    want = _dense_product(sides.want, pool.matrix)
    avoid = _dense_product(sides.avoid, pool.matrix)
    # A profile is a unit vector: the cosine of (want - avoid), per subscriber.
    norms = sparse.linalg.norm(sides.want - sides.avoid, axis=1).astype(np.float32)[:, None]
    norms = np.where(norms > 0, norms, np.float32(1.0))
    cosine: Array = np.asarray((want - avoid) / norms, dtype=np.float32)
    relevance = _standard(cosine)
    matches = want > 0
    avoid_z = _standard(avoid)
    leans_away = avoid > want
    if space is not None and sides.dense_want is not None and sides.dense_avoid is not None:
        d = np.float32(blend.dense_weight)
        dense_want = sides.dense_want @ space.rows.T
        dense_avoid = sides.dense_avoid @ space.rows.T
        dense_profile = normalize(sides.dense_want - sides.dense_avoid)
        dense_cosine = (dense_profile @ space.rows.T).astype(np.float32)
        has_dense = np.abs(dense_profile).sum(axis=1, keepdims=True) > 0
        dense_relevance = np.where(has_dense, _standard(dense_cosine), relevance)
        relevance = np.asarray((1 - d) * relevance + d * dense_relevance, dtype=np.float32)
        cosine = np.asarray((1 - d) * cosine + d * dense_cosine, dtype=np.float32)
        matches |= has_dense & (_standard(dense_want) >= DENSE_MATCH_Z)
        avoid_z = (1 - d) * avoid_z + d * _standard(dense_avoid)
        leans_away = (1 - d) * (avoid - want) + d * (dense_avoid - dense_want) > 0
    for row, scores in _learned_relevance(pool, space, profiles, blend).items():
        relevance[row] = scores

    fresh = np.ones(relevance.shape, dtype=bool)
    for row, subscriber in enumerate(profiles):
        for paper_id in subscriber.received:
            index = pool.index.get(paper_id)
            if index is not None:
                fresh[row, index] = False

    personal = np.array([p.personal for p in profiles])
    weight = np.where(personal, blend.relevance_weight, 0.0).astype(np.float32)[:, None]
    # Relevance is rescaled per subscriber so their best new match counts as much as the
    # day's top trend; a paper they already have must not set the scale.
    best = np.where(fresh, relevance, -np.inf).max(axis=1, keepdims=True)
    scaled = relevance / np.where(best > 0, best, 1.0)
    score = (1.0 - weight) * pool.trend[None, :] + weight * scaled

    trending = np.zeros(len(pool), dtype=bool)
    trending[: blend.trending_slots] = True  # the pool is in trend order
    interested = np.array([p.interested for p in profiles])[:, None]
    has_disliked = np.array([bool(p.disliked) for p in profiles])[:, None]
    not_disliked = ~(has_disliked & leans_away & (avoid_z >= DISLIKE_Z))
    qualifies = fresh & not_disliked & np.where(interested, matches | trending, True)
    score = np.where(qualifies, score, -np.inf)
    for row, subscriber in enumerate(profiles):
        yield _top(score[row], cosine[row], subscriber.size)


def _top(scores: Array, relevance: Array, k: int) -> list[Pick]:
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
