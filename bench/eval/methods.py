"""The rankings compared: the trending list, an arxiv-sanity-lite baseline, digest's own.

Each method takes a split and returns every subscriber's day-2 edition (paper ids, best
first, at most `size`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from bench.eval.data import AUTHOR_PREFIX, CATEGORY_PREFIX, EvalPaper, EvalSubscriber
from bench.eval.simulate import Split
from digest.papers import PaperText
from digest.rank.embed import Embedder
from digest.rank.features import Follows
from digest.rank.personalize import Pick, SubscriberProfile, personalize
from digest.rank.pool import CandidatePool, PoolPaper
from digest.semantic import load_embedder
from digest.settings import BlendSettings, Settings

SIZE = 10
SVM_C = 0.01

Editions = list[list[str]]


def default_pool_options() -> dict[str, object]:
    """Optional CandidatePool inputs as production passes them: the configured embedding
    model when the semantic extra is installed (DIGEST_EMBEDDING_MODEL=off: tf-idf only)."""
    embedder = _cached_embedder()
    return {} if embedder is None else {"embedder": embedder}


@lru_cache(maxsize=1)
def _cached_embedder() -> CachedEmbedder | None:
    embedder = load_embedder(Settings())
    return None if embedder is None else CachedEmbedder(embedder)


def _process_embedder(vectors: dict[str, npt.NDArray[np.float32]]) -> CachedEmbedder | None:
    """This process's CachedEmbedder, given the vectors another process already made."""
    embedder = _cached_embedder()
    if embedder is not None:
        embedder.vectors.update(vectors)
    return embedder


class CachedEmbedder:
    """The embedder, remembering each text's vector: every split embeds the same papers.

    Each text is encoded alone: the int8 model scales its activations per forward pass, so
    in a batch a text's vector would depend on its batch-mates (a cosine of about 0.98
    between the two), and the figures on which splits ran in which process.
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.dimensions = inner.dimensions
        self.vectors: dict[str, npt.NDArray[np.float32]] = {}

    def __reduce__(self) -> tuple[Callable[..., CachedEmbedder | None], tuple[object, ...]]:
        # A quantized torch model does not survive pickling: the process running a split
        # uses its own model (the same settings), with the vectors made so far.
        return _process_embedder, (self.vectors,)

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        for text in dict.fromkeys(t for t in texts if t not in self.vectors):
            self.vectors[text] = self.inner.encode([text])[0]
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)


@dataclass(frozen=True)
class MethodOptions:
    size: int = SIZE
    blend: BlendSettings = field(default_factory=lambda: Settings().ranking.blend)
    pool_options: Mapping[str, object] = field(default_factory=default_pool_options)


def trending(split: Split, options: MethodOptions) -> Editions:
    """Everyone gets the day's top papers by upvotes."""
    top = [p.id for p in split.day2[: options.size]]
    return [list(top) for _ in split.subscribers]


def _sanity_text(paper: EvalPaper) -> str:
    # arxiv-sanity-lite indexes title, abstract and author names.
    return " ".join([paper.title, paper.abstract, " ".join(paper.authors)])


def _typed_text(subscriber: EvalSubscriber) -> str:
    return " ".join(
        f.removeprefix(CATEGORY_PREFIX).removeprefix(AUTHOR_PREFIX) for f in subscriber.follows
    )


def svm(split: Split, options: MethodOptions) -> Editions:
    """arxiv-sanity-lite: tf-idf over all papers, one LinearSVC (C=0.01) per subscriber."""
    # Positives: the papers rated up and, for a follower, their typed follows joined as one
    # more document; every other paper of both days is a negative, as arxiv-sanity-lite
    # treats untagged papers. No positive at all: the trending list.
    papers = split.papers
    # arxiv-sanity-lite's vectorizer, but min_df=1 and max_df=1.0: its 5 and 0.1 are meant
    # for 10^5 papers and would drop most of a small corpus's vocabulary.
    vectorizer = TfidfVectorizer(
        strip_accents="unicode",
        lowercase=True,
        analyzer="word",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2),
        max_features=20000,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        sublinear_tf=True,
    )
    matrix = vectorizer.fit_transform([_sanity_text(p) for p in papers]).tocsr()
    row = {p.id: i for i, p in enumerate(papers)}
    day2_rows = np.array([row[p.id] for p in split.day2])
    fallback = trending(split, options)[0] if split.subscribers else []
    editions: Editions = []
    for subscriber in split.subscribers:
        liked = [row[r.paper] for r in subscriber.ratings if r.up]
        if not liked and not subscriber.follows:
            editions.append(list(fallback))
            continue
        labels = np.zeros(len(papers), dtype=np.int64)
        labels[liked] = 1
        features = matrix
        if subscriber.follows:
            typed = vectorizer.transform([_typed_text(subscriber)])
            features = sparse.vstack([matrix, typed]).tocsr()
            labels = np.append(labels, 1)
        model = LinearSVC(
            class_weight="balanced", max_iter=10000, tol=1e-6, C=SVM_C, random_state=0
        )
        model.fit(features, labels)
        scores = np.asarray(model.decision_function(matrix[day2_rows]), dtype=np.float64)
        # Ties go to the paper higher in the trend order, as in digest.
        order = np.lexsort((np.arange(len(day2_rows)), -scores))[: options.size]
        editions.append([split.day2[i].id for i in order])
    return editions


def paper_text(paper: EvalPaper) -> PaperText:
    return PaperText(
        title=paper.title,
        abstract=paper.abstract,
        keywords=paper.keywords,
        categories=paper.categories,
        authors=paper.authors,
    )


def follows_of(subscriber: EvalSubscriber) -> Follows:
    """Typed strings as the preferences page takes them: topics, `cat:` and `author:`."""
    topics, categories, authors = [], [], []
    for typed in subscriber.follows:
        if typed.startswith(CATEGORY_PREFIX):
            categories.append(typed.removeprefix(CATEGORY_PREFIX))
        elif typed.startswith(AUTHOR_PREFIX):
            authors.append(typed.removeprefix(AUTHOR_PREFIX))
        else:
            topics.append(typed)
    return Follows(tuple(topics), tuple(categories), tuple(authors))


# The adapter: the only place that calls digest's ranking, so the evaluation always runs
# digest's current code. When CandidatePool or personalize grow optional inputs (dense
# embeddings, an embedder), pass them here; keywords a signature does not take are dropped,
# so the bench keeps running while the ranking changes under it.
def _accepted(function: Callable[..., object], options: Mapping[str, object]) -> dict[str, object]:
    parameters = inspect.signature(function).parameters
    return {name: value for name, value in options.items() if name in parameters}


def build_digest_pool(papers: Sequence[PoolPaper], **options: object) -> CandidatePool:
    """Digest's candidate pool of these papers (in trend order)."""
    pool_class = cast(Any, CandidatePool)
    return cast(CandidatePool, pool_class(papers, **_accepted(CandidatePool, options)))


def digest_picks(
    pool: CandidatePool, profiles: Sequence[SubscriberProfile], blend: BlendSettings
) -> list[list[Pick]]:
    """Digest's editions, as `personalize` makes them in production."""
    return personalize(pool, profiles, blend)


def digest(split: Split, options: MethodOptions) -> Editions:
    """digest's ranking: `personalize` with the given blend (default: the settings')."""
    pool_papers = [
        PoolPaper(i + 1, paper_text(p), float(p.upvotes or 0), upvote_gain=p.upvotes or 0)
        for i, p in enumerate(split.day2)
    ]
    pool = build_digest_pool(pool_papers, **options.pool_options)
    id_of = {pp.paper_id: p.id for pp, p in zip(pool_papers, split.day2, strict=True)}
    day1 = {p.id: p for p in split.day1}
    profiles = [
        SubscriberProfile(
            i,
            follows_of(s),
            size=options.size,
            liked=tuple(paper_text(day1[r.paper]) for r in s.ratings if r.up),
            disliked=tuple(paper_text(day1[r.paper]) for r in s.ratings if not r.up),
        )
        for i, s in enumerate(split.subscribers)
    ]
    picks = digest_picks(pool, profiles, options.blend)
    return [[id_of[pool.papers[pick.pool_index].paper_id] for pick in edition] for edition in picks]


Method = Callable[[Split, MethodOptions], Editions]
METHODS: dict[str, Method] = {"trending": trending, "svm": svm, "digest": digest}
LABELS = {
    "trending": "trending list (upvotes)",
    "svm": "tf-idf + LinearSVC (arxiv-sanity-lite)",
    "digest": "digest (personalize)",
}
