"""Each subscriber's edition: trend blended with relevance, computed in bulk.

For a chunk of subscribers at a time, one sparse product gives the tf-idf cosine of every
(subscriber, paper) pair, and, when the pool has embeddings, one dense product the
embedding cosine; blending, masking and the top-k choice are numpy operations over that
block, so the cost grows linearly with the number of subscribers.

    profile   = unit(unit(follows) + f * unit(mean liked) - g * f * unit(mean disliked)
                     + c * unit(mean of what other readers of their topics liked))
                (once in tf-idf space, once in embedding space; c = community_weight)
    relevance = (1 - d) * z(profile · paper+) + d * z(dense profile · dense paper+)
                (z: standardised over the pool, per subscriber; d = dense_weight, 0 without
                embeddings; paper+: the paper's unit vector plus the mean of its k nearest
                pool papers', by the same blend of similarities, made unit again), averaged
                with z of a linear model trained on their ratings when they have
                `learned_min_ratings` or more (digest.rank.learned)
    score     = (1 - w) * trend / max(trend) + w * relevance / max(relevance)
                (w = relevance_weight, or 0 for an empty profile; max over the fresh papers)

A paper qualifies for a subscriber when it is not already received, is not like what they
marked "less like this" (closer to those papers than to what they want, and among the
pool's most similar to them), and, if they said what they want (follows or "more like
this"), either matches it (shares a feature with their profile, or is among the pool's
closest in embedding space) or is one of the day's `trending_slots` top papers. The best
qualifying papers fill the edition: no fixed relevance threshold cuts it short. With
embeddings, a paper near-identical in meaning to three papers already in the edition waits
until the papers that are not have had their turn. A subscriber who follows nothing and
rated nothing gets the pure trending list.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.preprocessing import normalize

from digest.papers import PaperText
from digest.rank.embed import paper_text_for_embedding
from digest.rank.features import Follows
from digest.rank.learned import FeatureRows, LearnedModels, Ratings, background_sample
from digest.rank.mutes import Mutes
from digest.rank.pool import CandidatePool
from digest.settings import BlendSettings

CHUNK_SUBSCRIBERS = 2048
# "Less like this" says less than "more like this" (g above): Rocchio's classic weights
# (0.75 for papers rated up, 0.15 down). A paper rated down is often merely off-topic, and
# taking its mean away pulls the profile from the rest of the pool as much as towards the
# subscriber's subject.
DISLIKE_WEIGHT = 0.2
# Excluded outright: a paper whose likeness to what they rated down, times this, is more than
# its likeness to what they want (and that is DISLIKE_Z sd above the pool's mean likeness).
DISLIKE_LEAN = 0.5
DISLIKE_Z = 1.5  # excluded: leans to the disliked side and this many sd above the pool
# A paper this many sd closer than the pool's mean matches in meaning. At 1.5 a small pool
# (a quiet day) left editions short of papers that were about the subscriber's topic.
DENSE_MATCH_Z = 0.5
LEARNED_SHARE = 0.5  # the rating-trained model's share; the rest is the Rocchio profile's
# The model does not see what other readers of their topics liked; the profile does, so for
# a subscriber given that, the profile weighs more.
LEARNED_SHARE_WITH_COMMUNITY = 0.25
# The model's negatives are a sample of the pool, which holds the very papers a subscriber
# wants: the sampled papers their profile ranks highest are left out of their negatives, as
# positive-unlabelled learning keeps only "reliable negatives". More than a few, and the
# model loses the background it learns against.
PROFILE_TOP_NOT_NEGATIVE = 3
# A pool paper is scored as itself plus its nearest pool papers (document expansion):
# papers about one thing rise and fall together, which evens out a profile's accidental
# hits and misses (the cluster hypothesis). Done once per pool, it costs a subscriber nothing.
NEIGHBOURS = 6
NEIGHBOUR_WEIGHT = 1.0  # the neighbours' mean vector, added to the paper's own
NEIGHBOUR_BLOCK = 1024  # pool papers whose neighbours are found at once
NEAR_IDENTICAL = 0.75  # embedding cosine of two papers on the same narrow thing
NEAR_IDENTICAL_ALLOWED = 3  # a pick near-identical to this many earlier ones waits
# What other readers of a topic rated up joins a profile as the heaviest features of its
# mean only, as query expansion keeps its strongest terms: fifty abstracts' every word
# would make each profile row as long as the pool's vocabulary, and the cost follows.
COMMUNITY_FEATURES = 100
COMMUNITY_LISTS_KEPT = 20_000  # lists whose means a pool keeps (a subscriber who rated: their own)

Array = npt.NDArray[np.float32]

# Per pool, the background side of the rating-trained models, for one dense weight and the
# pool's dense rows: computed once per process however many batches rank from the pool.
_learned: WeakKeyDictionary[CandidatePool, tuple[float, object, LearnedModels]] = (
    WeakKeyDictionary()
)


@dataclass(frozen=True)
class SubscriberProfile:
    subscriber_id: int
    follows: Follows = field(default_factory=Follows)
    size: int = 10
    liked: Sequence[PaperText] = ()
    disliked: Sequence[PaperText] = ()
    received: frozenset[int] = frozenset()  # paper ids already sent to this subscriber
    mutes: Mutes = field(default_factory=Mutes)  # withheld by the pipeline (digest.rank.mutes)
    # Papers other readers who follow their topics rated up, and how many of those readers
    # did (digest.rank.community): part of what they want, with the community weight.
    community: Sequence[tuple[PaperText, int]] = ()

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
    """The pool's embedding rows; what is not in the pool is encoded by the pool's model."""

    rows: Array
    pool: CandidatePool
    by_text: dict[PaperText, int]

    @classmethod
    def of(cls, pool: CandidatePool) -> _DenseSpace | None:
        if pool.dense is None or pool.embedder is None:
            return None
        by_text: dict[PaperText, int] = {}
        for i, paper in enumerate(pool.papers):
            by_text.setdefault(paper.text, i)
        return cls(np.asarray(pool.dense, dtype=np.float32), pool, by_text)

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
        for text, row in zip(wanted, self.pool.encode(wanted), strict=True):
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
    """Per subscriber: what they want (follows + liked) and what they do not (disliked),
    and the rows they were made of, which the rating-trained model reuses."""

    want: sparse.csr_matrix
    avoid: sparse.csr_matrix
    dense_want: Array | None
    dense_avoid: Array | None
    follows: sparse.csr_matrix  # unit tf-idf row of each profile's follows
    dense_follows: Array | None  # unit mean of each profile's typed topics
    rated_owners: list[int]  # the profile of each rated paper: the liked ones, then disliked
    rated: sparse.csr_matrix | None  # their tf-idf rows
    dense_rated: Array | None  # and their embedding rows
    shared: npt.NDArray[np.bool_]  # whose profile holds what other readers of a topic liked


def _sides(
    pool: CandidatePool,
    space: _DenseSpace | None,
    profiles: Sequence[SubscriberProfile],
    blend: BlendSettings,
    rows_needed: bool,
) -> _Sides:
    count = len(profiles)
    follows = normalize(pool.vectors([p.follows for p in profiles])).tocsr()
    liked = [(i, text) for i, p in enumerate(profiles) for text in p.liked]
    disliked = [(i, text) for i, p in enumerate(profiles) for text in p.disliked]
    rated = [text for _, text in liked + disliked]
    owners = [i for i, _ in liked + disliked]
    vectors = pool.paper_vectors(rated) if rated else None
    f = blend.feedback_weight
    want, avoid = follows, sparse.csr_matrix(follows.shape, dtype=np.float32)
    if vectors is not None and f > 0:
        want = follows + f * _mean_rows([i for i, _ in liked], vectors[: len(liked)], count)
        avoid = (
            f * DISLIKE_WEIGHT * _mean_rows([i for i, _ in disliked], vectors[len(liked) :], count)
        )
    shared = _Community.of(pool, space, profiles, blend.community_weight)
    given = np.zeros(count, dtype=bool) if shared is None else shared.given
    if shared is not None:
        want = want + shared.sparse
    if space is None:
        return _Sides(
            want.tocsr(), avoid.tocsr(), None, None, follows, None, owners, vectors, None, given
        )

    topics = [(i, topic) for i, p in enumerate(profiles) for topic in p.follows.topics]
    dense_follows = _dense_mean_rows(
        [i for i, _ in topics], space.topics([t for _, t in topics]), count
    )
    dense_want = dense_follows
    dense_avoid = np.zeros_like(dense_follows)
    rows = space.papers(rated) if rated and (f > 0 or rows_needed) else None
    if rows is not None and f > 0:
        dense_want = dense_follows + f * _dense_mean_rows(
            [i for i, _ in liked], rows[: len(liked)], count
        )
        dense_avoid = (
            f
            * DISLIKE_WEIGHT
            * _dense_mean_rows([i for i, _ in disliked], rows[len(liked) :], count)
        )
    if shared is not None and shared.dense is not None:
        dense_want = dense_want + shared.dense
    return _Sides(
        want.tocsr(),
        avoid.tocsr(),
        dense_want,
        dense_avoid,
        follows,
        dense_follows,
        owners,
        vectors,
        rows,
        given,
    )


CommunityList = tuple[tuple[PaperText, int], ...]
# Per pool: each community list's mean rows (tf-idf, its heaviest features; embedding, when
# the pool has them), so a list that many subscribers share, or that comes back in every
# batch, is averaged once per process.
_community_means: WeakKeyDictionary[
    CandidatePool, dict[CommunityList, tuple[sparse.csr_matrix, Array | None]]
] = WeakKeyDictionary()


@dataclass
class _Community:
    """What other readers of their topics rated up, as rows to add to the profiles of a
    chunk (the community weight times each one's list's mean)."""

    sparse: sparse.csr_matrix
    dense: Array | None
    given: npt.NDArray[np.bool_]  # the profiles that have a list

    @classmethod
    def of(
        cls,
        pool: CandidatePool,
        space: _DenseSpace | None,
        profiles: Sequence[SubscriberProfile],
        weight: float,
    ) -> _Community | None:
        index: dict[CommunityList, int] = {}
        rows, columns = [], []
        for row, profile in enumerate(profiles):
            if profile.community and weight > 0:
                rows.append(row)
                columns.append(index.setdefault(tuple(profile.community), len(index)))
        if not rows:
            return None
        pick = sparse.csr_matrix(
            (np.full(len(rows), weight, dtype=np.float32), (rows, columns)),
            shape=(len(profiles), len(index)),
        )
        means = _list_means(pool, space, list(index))
        sparse_means = sparse.vstack([row for row, _ in means]).tocsr()
        dense = None
        if space is not None:
            dense_means = [row for _, row in means if row is not None]
            dense = np.asarray(pick @ np.vstack(dense_means), dtype=np.float32)
        given = np.zeros(len(profiles), dtype=bool)
        given[rows] = True
        return cls((pick @ sparse_means).tocsr(), dense, given)


def _list_means(
    pool: CandidatePool, space: _DenseSpace | None, lists: list[CommunityList]
) -> list[tuple[sparse.csr_matrix, Array | None]]:
    known = _community_means.setdefault(pool, {})
    distinct = list(dict.fromkeys(lists))
    if len(known) + len(distinct) > COMMUNITY_LISTS_KEPT:
        known.clear()
    new = [papers for papers in distinct if papers not in known]
    if new:
        owners = [k for k, papers in enumerate(new) for _ in papers]
        texts = [text for papers in new for text, _ in papers]
        # Each paper weighs as many as the readers who rated it up.
        readers = np.array([n for papers in new for _, n in papers], dtype=np.float32)
        weighted = sparse.csr_matrix(sparse.diags(readers) @ pool.paper_vectors(texts))
        sparse_means = _heaviest(_mean_rows(owners, weighted, len(new)), COMMUNITY_FEATURES)
        dense_means = None
        if space is not None:
            dense_means = _dense_mean_rows(owners, space.papers(texts) * readers[:, None], len(new))
        for k, papers in enumerate(new):
            known[papers] = (
                sparse_means[k],
                None if dense_means is None else dense_means[k : k + 1],
            )
    return [known[papers] for papers in lists]


def _heaviest(rows: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """Each row with only its k largest values (ties to the lower column), made unit again."""
    rows = rows.tocsr()
    rows.sort_indices()
    data, indices, pointers = [], [], [0]
    for r in range(rows.shape[0]):
        start, stop = rows.indptr[r], rows.indptr[r + 1]
        values, columns = rows.data[start:stop], rows.indices[start:stop]
        if values.size > k:
            kept = np.sort(np.lexsort((columns, -values))[:k])
            values, columns = values[kept], columns[kept]
        data.append(values)
        indices.append(columns)
        pointers.append(pointers[-1] + values.size)
    kept_rows = sparse.csr_matrix(
        (
            np.concatenate(data or [np.zeros(0, np.float32)]),
            np.concatenate(indices or [np.zeros(0, np.int32)]),
            np.asarray(pointers),
        ),
        shape=rows.shape,
    )
    return normalize(kept_rows).tocsr()


def _standard(scores: Array) -> Array:
    """Each row as standard scores over the pool, so tf-idf and embedding cosines blend."""
    # Rows in C order: numpy sums a row of another layout in another order, and the last
    # bits of an edition's scores must not depend on how many subscribers share the block.
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    standard: Array = scores - scores.mean(axis=1, keepdims=True)
    # The spread from the centred rows in one pass (numpy's std makes two more arrays).
    spread = np.sqrt(np.einsum("ij,ij->i", standard, standard) / max(standard.shape[1], 1))
    standard /= np.where(spread > 1e-9, spread, 1.0).astype(np.float32)[:, None]
    return standard


def _dense_product(a: sparse.csr_matrix, b: sparse.csr_matrix) -> Array:
    return np.asarray((a @ b.T).todense(), dtype=np.float32)


def _trained(profiles: Sequence[SubscriberProfile], blend: BlendSettings) -> list[int]:
    """The rows of the profiles with enough ratings (one up at least) for their own model."""
    least = blend.learned_min_ratings
    return [
        row
        for row, p in enumerate(profiles)
        if least > 0 and p.liked and len(p.liked) + len(p.disliked) >= least
    ]


def _learned_models(pool: CandidatePool, space: _DenseSpace | None, d: float) -> LearnedModels:
    """The pool's side of the models (its rows, the background's), once per pool and `d`."""
    dense = space.rows if space is not None and d > 0 else None
    cached = _learned.get(pool)
    if cached is not None and cached[0] == d and cached[1] is pool.dense:
        return cached[2]
    rows = FeatureRows(
        pool.matrix * np.float32(np.sqrt(1.0 - d)),
        None if dense is None else dense * np.float32(np.sqrt(d)),
    )
    models = LearnedModels(rows, background_sample(len(pool)))
    _learned[pool] = (d, pool.dense, models)
    return models


def _learned_relevance(
    pool: CandidatePool,
    space: _DenseSpace | None,
    profiles: Sequence[SubscriberProfile],
    blend: BlendSettings,
    sides: _Sides,
    relevance: Array,
) -> dict[int, Array]:
    """Standardised model scores for the subscribers with enough ratings, by chunk row
    (`relevance`: the profile's, every chunk row over the pool)."""
    trained = _trained(profiles, blend)
    if not trained or sides.rated is None:
        return {}
    d = blend.dense_weight if space is not None and sides.dense_rated is not None else 0.0
    models = _learned_models(pool, space, d)
    sparse_part, dense_part = np.float32(np.sqrt(1.0 - d)), np.float32(np.sqrt(d))
    position = {row: k for k, row in enumerate(trained)}
    liked_count = sum(len(p.liked) for p in profiles)
    # Their ratings (liked, then disliked), then what they follow as one more positive.
    picked = [i for i, row in enumerate(sides.rated_owners) if row in position]
    followers = [row for row in trained if not profiles[row].follows.empty]
    owner = np.array(
        [position[sides.rated_owners[i]] for i in picked] + [position[r] for r in followers],
        dtype=np.int64,
    )
    liked = np.array([i < liked_count for i in picked] + [True] * len(followers), dtype=bool)
    rows_sparse = sparse.vstack([sides.rated[picked], sides.follows[followers]]).tocsr()
    rows_dense = None
    if d > 0 and sides.dense_rated is not None and sides.dense_follows is not None:
        rows_dense = np.vstack([sides.dense_rated[picked], sides.dense_follows[followers]])
    background = {int(index): k for k, index in enumerate(models.background_index)}
    by_text = {paper.text: i for i, paper in reversed(list(enumerate(pool.papers)))}
    # Positions in the background, as `background` maps pool indices to them.
    top = _profile_top(
        relevance[np.ix_(np.asarray(trained, dtype=np.int64), models.background_index)],
        PROFILE_TOP_NOT_NEGATIVE,
    )
    excluded = [
        sorted(
            {
                background[by_text[t]]
                for t in profiles[row].liked
                if by_text.get(t, -1) in background
            }
            | set(top[k].tolist())
        )
        for k, row in enumerate(trained)
    ]
    ratings = Ratings(
        FeatureRows(
            rows_sparse * sparse_part, None if rows_dense is None else rows_dense * dense_part
        ),
        owner,
        liked,
        excluded,
    )
    scores, solved = models.scores(ratings, len(trained))
    standard = _standard(scores[solved])
    return dict(zip(np.asarray(trained)[solved].tolist(), standard, strict=True))


def _profile_top(relevance: Array, k: int) -> npt.NDArray[np.int64]:
    """[rows, k]: each row's k highest-scored columns (every column if fewer)."""
    k = min(k, relevance.shape[1])
    if k <= 0:
        return np.zeros((relevance.shape[0], 0), dtype=np.int64)
    return np.argpartition(-relevance, k - 1, axis=1)[:, :k].astype(np.int64)


def _personalize_chunk(
    pool: CandidatePool,
    space: _DenseSpace | None,
    profiles: Sequence[SubscriberProfile],
    blend: BlendSettings,
) -> Iterator[list[Pick]]:
    sides = _sides(pool, space, profiles, blend, bool(_trained(profiles, blend)))
    # What they rated down is scored only for those who rated something down: for the others
    # it is zero, and most subscribers are others.
    disliking = np.flatnonzero([bool(p.disliked) for p in profiles])
    scored = _expanded(pool, space, blend.dense_weight)
    want = _dense_product(sides.want, scored.sparse)
    avoid = _dense_product(sides.avoid[disliking], scored.sparse)
    # A profile is a unit vector: the cosine of (want - avoid), per subscriber.
    norms = sparse.linalg.norm(sides.want - sides.avoid, axis=1).astype(np.float32)[:, None]
    norms = np.where(norms > 0, norms, np.float32(1.0))
    cosine: Array = np.asarray(want / norms, dtype=np.float32)
    cosine[disliking] = (want[disliking] - avoid) / norms[disliking]
    relevance = _standard(cosine)
    # A match shares a feature with the paper itself, not only with its neighbours.
    matches = (
        _dense_product(sides.want, pool.matrix) > 0
        if scored.sparse is not pool.matrix
        else want > 0
    )
    avoid_z = _standard(avoid)
    lean = np.float32(DISLIKE_LEAN / DISLIKE_WEIGHT)  # avoid is weighted by DISLIKE_WEIGHT
    leans_away = lean * avoid > want[disliking]
    if space is not None and sides.dense_want is not None and sides.dense_avoid is not None:
        d = np.float32(blend.dense_weight)
        dense_profile = normalize(sides.dense_want - sides.dense_avoid)
        assert scored.dense is not None  # a pool with a dense space has expanded rows
        dense_cosine = (dense_profile @ scored.dense.T).astype(np.float32)
        has_dense = np.abs(dense_profile).sum(axis=1, keepdims=True) > 0
        dense_relevance = np.where(has_dense, _standard(dense_cosine), relevance)
        relevance = np.asarray((1 - d) * relevance + d * dense_relevance, dtype=np.float32)
        cosine = np.asarray((1 - d) * cosine + d * dense_cosine, dtype=np.float32)
        # Without dislikes the dense profile is their wants scaled: the same standard scores.
        dense_want_z = _standard(dense_cosine)
        if disliking.size:
            dense_want = sides.dense_want[disliking] @ scored.dense.T
            dense_avoid = sides.dense_avoid[disliking] @ scored.dense.T
            dense_want_z[disliking] = _standard(dense_want)
            avoid_z = (1 - d) * avoid_z + d * _standard(dense_avoid)
            leans_away = (1 - d) * (lean * avoid - want[disliking]) + d * (
                lean * dense_avoid - dense_want
            ) > 0
        matches |= has_dense & (dense_want_z >= DENSE_MATCH_Z)
    learned = _learned_relevance(pool, space, profiles, blend, sides, relevance)
    if learned:
        # Two views of the same ratings: the averaged profile and the trained model. Each
        # errs in its own way (an off-topic vote pulls the profile; few votes leave the
        # model unsure), so together they beat either.
        rows = np.fromiter(learned, dtype=np.int64)
        share = np.array(
            [LEARNED_SHARE_WITH_COMMUNITY if sides.shared[r] else LEARNED_SHARE for r in rows],
            dtype=np.float32,
        )[:, None]
        mixed = (1 - share) * relevance[rows] + share * np.stack(list(learned.values()))
        relevance[rows] = _standard(mixed.astype(np.float32))

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
    qualifies = fresh & np.where(interested, matches | trending, True)
    qualifies[disliking] &= ~(leans_away & (avoid_z >= DISLIKE_Z))
    score = np.where(qualifies, score, -np.inf)
    near = _near_identical(space)
    for row, subscriber in enumerate(profiles):
        picks = _top(score[row], subscriber.size)
        if near is not None and subscriber.interested:
            picks = _varied(picks, score[row], near)
        yield picks


# Per pool: its papers as scored (expanded by their neighbours), for one dense weight and
# the pool's dense rows.
_expanded_cache: WeakKeyDictionary[CandidatePool, tuple[float, object, FeatureRows]] = (
    WeakKeyDictionary()
)


def _expanded(pool: CandidatePool, space: _DenseSpace | None, d: float) -> FeatureRows:
    """The pool's unit tf-idf rows and embedding rows, each paper's plus NEIGHBOUR_WEIGHT
    times the mean of its nearest pool papers', renormalised."""
    d = d if space is not None else 0.0
    cached = _expanded_cache.get(pool)
    if cached is not None and cached[0] == d and cached[1] is pool.dense:
        return cached[2]
    dense = None if space is None else space.rows
    nearest = _neighbours(pool, space, d)
    if nearest is not None:
        size, k = nearest.shape
        mean = sparse.csr_matrix(
            (
                np.full(size * k, NEIGHBOUR_WEIGHT / k, dtype=np.float32),
                (np.repeat(np.arange(size), k), nearest.ravel()),
            ),
            shape=(size, size),
        )
        rows = FeatureRows(
            normalize(pool.matrix + mean @ pool.matrix).astype(np.float32).tocsr(),
            None if dense is None else np.asarray(normalize(dense + mean @ dense), np.float32),
        )
    else:
        rows = FeatureRows(pool.matrix, dense)
    _expanded_cache[pool] = (d, pool.dense, rows)
    return rows


def _neighbours(
    pool: CandidatePool, space: _DenseSpace | None, d: float
) -> npt.NDArray[np.int64] | None:
    """[len(pool), k]: each paper's nearest other papers, by the blend of tf-idf and
    embedding similarity that relevance uses (d); None for a pool too small to have them."""
    size = len(pool)
    k = min(NEIGHBOURS, size - 1)
    nearest = None
    if k > 0:
        nearest = np.zeros((size, k), dtype=np.int64)
        # In blocks of rows: a pool's full similarity matrix would be len(pool)^2 floats.
        for start in range(0, size, NEIGHBOUR_BLOCK):
            rows = slice(start, min(start + NEIGHBOUR_BLOCK, size))
            similar = _standard(_dense_product(pool.matrix[rows], pool.matrix))
            if space is not None and d > 0:
                similar = (1 - d) * similar + d * _standard(space.rows[rows] @ space.rows.T)
            similar[np.arange(similar.shape[0]), np.arange(rows.start, rows.stop)] = -np.inf
            nearest[rows] = np.sort(np.argpartition(-similar, k - 1, axis=1)[:, :k], axis=1)
    return nearest


Partners = dict[int, frozenset[int]]
_near_cache: WeakKeyDictionary[CandidatePool, tuple[object, Partners]] = WeakKeyDictionary()


def _near_identical(space: _DenseSpace | None) -> Partners | None:
    """The pool papers with another on the same narrow thing, and those others (embeddings
    only): few papers have any, so a dictionary of sets."""
    if space is None:
        return None
    cached = _near_cache.get(space.pool)
    if cached is not None and cached[0] is space.pool.dense:
        return cached[1]
    found: dict[int, set[int]] = {}
    for start in range(0, space.rows.shape[0], NEIGHBOUR_BLOCK):
        close = (space.rows[start : start + NEIGHBOUR_BLOCK] @ space.rows.T) >= NEAR_IDENTICAL
        for row, column in zip(*np.nonzero(close), strict=True):
            if row + start != column:
                found.setdefault(int(row + start), set()).add(int(column))
    partners = {paper: frozenset(others) for paper, others in found.items()}
    _near_cache[space.pool] = (space.pool.dense, partners)
    return partners


def _varied(picks: list[Pick], scores: Array, partners: Partners) -> list[Pick]:
    """The picks with a paper near-identical to NEAR_IDENTICAL_ALLOWED earlier ones moved
    after the papers that are not (taken from beyond the picks when there are some)."""
    if sum(pick.pool_index in partners for pick in picks) <= NEAR_IDENTICAL_ALLOWED:
        return picks  # the common case: too few papers with a near-identical one anywhere
    size = len(picks)
    kept: list[Pick] = []
    waiting: list[Pick] = []
    taken: set[int] = set()
    for pick in _top(scores, 4 * size):
        if len(partners.get(pick.pool_index, frozenset()) & taken) >= NEAR_IDENTICAL_ALLOWED:
            waiting.append(pick)
        else:
            kept.append(pick)
            taken.add(pick.pool_index)
        if len(kept) == size:
            break
    return (kept + waiting)[:size]


def _top(scores: Array, k: int) -> list[Pick]:
    k = min(k, scores.size)
    if k <= 0:
        return []
    candidates = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
    # Ties go to the paper higher in the trend order (lower pool index): deterministic.
    ordered = candidates[np.lexsort((candidates, -scores[candidates]))]
    return [Pick(int(i), float(scores[i])) for i in ordered if np.isfinite(scores[i])]
