"""Ranking that learns from ratings: the per-subscriber model, the adaptive fill, embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest

from digest.papers import PaperText
from digest.rank import learned
from digest.rank import personalize as personalize_module
from digest.rank.embed import paper_text_for_embedding
from digest.rank.features import Follows
from digest.rank.learned import SVM_C, FeatureRows
from digest.rank.personalize import Pick, SubscriberProfile, personalize
from digest.rank.pool import CandidatePool, PoolPaper
from tests.factories import DEFAULT_RANKING

THEMES = {
    "robots": (
        "robot grasping manipulation arm",
        "Robot arms grasp household objects with tactile manipulation policies.",
    ),
    "diffusion": (
        "diffusion image generation denoising",
        "Latent diffusion denoises noise into images; a text-to-image sampler.",
    ),
    "agents": (
        "LLM agents tool use",
        "Language model agents call tools and browse the web to finish tasks.",
    ),
    "proofs": (
        "theorem proving formal math",
        "A prover writes Lean proofs of competition mathematics theorems.",
    ),
}
BLEND = DEFAULT_RANKING.blend


def _paper(theme: str, n: int) -> PaperText:
    title, abstract = THEMES[theme]
    return PaperText(f"{title.title()} {n}", f"{abstract} Variant {n} of study {n * 7}.")


def _day2(per_theme: int = 4) -> tuple[CandidatePool, list[str]]:
    """A pool in trend order, robots papers trending least."""
    themes = [t for t in ("agents", "diffusion", "proofs", "robots") for _ in range(per_theme)]
    papers = [
        PoolPaper(i + 1, _paper(theme, 100 + i), trend=float(len(themes) - i))
        for i, theme in enumerate(themes)
    ]
    return CandidatePool(papers), themes


def _themes(picks: Sequence[Pick], themes: list[str]) -> list[str]:
    return [themes[p.pool_index] for p in picks]


def test_a_subscriber_who_rated_a_theme_gets_that_themes_new_papers_first() -> None:
    pool, themes = _day2()
    rater = SubscriberProfile(
        1,
        size=4,
        liked=(_paper("robots", 1), _paper("robots", 2), _paper("robots", 3)),
        disliked=(_paper("agents", 4),),
    )
    assert BLEND.learned_min_ratings <= 4  # this one trains a model
    [picks] = personalize(pool, [rater], BLEND)
    assert _themes(picks, themes) == ["robots"] * 4


def test_the_model_and_rocchio_agree_on_an_easy_case() -> None:
    pool, themes = _day2()
    rater = SubscriberProfile(1, size=2, liked=(_paper("proofs", 1), _paper("proofs", 2)))
    for blend in (
        replace(DEFAULT_RANKING.blend, learned_min_ratings=0),
        replace(DEFAULT_RANKING.blend, learned_min_ratings=2),
    ):
        [picks] = personalize(pool, [rater], blend)
        assert _themes(picks, themes) == ["proofs", "proofs"]


def test_an_interested_subscribers_edition_reaches_its_size() -> None:
    pool, _ = _day2()
    rater = SubscriberProfile(1, size=10, liked=(_paper("robots", 1),))
    follower = SubscriberProfile(2, Follows(topics=["robot grasping"]), size=6)
    rated, follows = personalize(
        pool, [rater, follower], replace(DEFAULT_RANKING.blend, trending_slots=0)
    )
    assert len(rated) == 10  # every paper shares some words with the one they liked
    assert len(follows) == 4  # only the four robots papers match; no slot filled by force


def test_a_blank_subscriber_gets_the_trending_list() -> None:
    pool, _ = _day2()
    [picks] = personalize(pool, [SubscriberProfile(1, size=5)], BLEND)
    assert [p.pool_index for p in picks] == [0, 1, 2, 3, 4]


def test_papers_like_those_rated_down_stay_out() -> None:
    pool, themes = _day2()
    only_down = SubscriberProfile(1, size=16, disliked=(_paper("agents", 1),))
    mixed = SubscriberProfile(
        2,
        size=16,
        liked=(_paper("robots", 1), _paper("proofs", 2)),
        disliked=(_paper("agents", 3), _paper("agents", 4)),
    )
    for picks in personalize(pool, [only_down, mixed], BLEND):
        assert "agents" not in _themes(picks, themes)
        assert picks


def test_ranking_is_deterministic_with_the_model() -> None:
    pool, _ = _day2()
    profiles = [
        SubscriberProfile(
            i,
            size=5,
            liked=(_paper("robots", i), _paper("diffusion", i)),
            disliked=(_paper("agents", i),),
        )
        for i in range(5)
    ]
    assert personalize(pool, profiles, BLEND) == personalize(pool, profiles, BLEND, chunk=2)


class _ThemeEncoder:
    """A stand-in embedder: a text's vector is the unit sum of the themes it names."""

    dimensions = 4

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(list(texts))
        keys = ("robot", "diffusion", "agent", "proo")
        rows = np.array(
            [[1.0 if key in t.lower() else 0.0 for key in keys] for t in texts], dtype=np.float32
        )
        rows += 1e-3
        unit: npt.NDArray[np.float32] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        return unit


def _with_embeddings(pool: CandidatePool) -> _ThemeEncoder:
    encoder = _ThemeEncoder()
    rows = encoder.encode([paper_text_for_embedding(p.text) for p in pool.papers])
    encoder.calls.clear()
    pool.dense, pool.embedder = rows, encoder  # as if built with them
    return encoder


def test_embeddings_match_a_follow_that_shares_no_word() -> None:
    pool, themes = _day2()
    follower = SubscriberProfile(1, Follows(topics=["robotics"]), size=4)
    [tfidf_only] = personalize(pool, [follower], replace(DEFAULT_RANKING.blend, trending_slots=0))
    assert tfidf_only == []  # "robotics" is no word of any paper
    encoder = _with_embeddings(pool)
    [picks] = personalize(pool, [follower], replace(DEFAULT_RANKING.blend, trending_slots=0))
    assert _themes(picks, themes) == ["robots"] * 4
    assert encoder.calls == [["robotics"]]


def test_rated_papers_in_the_pool_use_their_rows_and_others_are_encoded_once() -> None:
    pool, themes = _day2()
    encoder = _with_embeddings(pool)
    outside = _paper("diffusion", 1)
    inside = pool.papers[4].text  # a diffusion paper of the pool
    profiles = [SubscriberProfile(i, size=3, liked=(outside, inside)) for i in range(3)]
    for picks in personalize(pool, profiles, replace(DEFAULT_RANKING.blend, learned_min_ratings=0)):
        assert _themes(picks, themes) == ["diffusion"] * 3
    assert encoder.calls == [[paper_text_for_embedding(outside)]]


def test_without_embeddings_the_same_profiles_rank_on_tfidf_alone() -> None:
    pool, themes = _day2()
    profile = SubscriberProfile(
        1, Follows(topics=["diffusion"]), size=3, liked=(_paper("robots", 1),)
    )
    [picks] = personalize(pool, [profile], BLEND)
    assert set(_themes(picks, themes)) <= {"diffusion", "robots"}


def _reference_svm(
    pool: FeatureRows, rated: FeatureRows, liked: list[bool], background: list[int]
) -> npt.NDArray[np.float64]:
    """liblinear's LinearSVC on the same rows, the model the closed form stands for."""
    from scipy import sparse
    from sklearn.svm import LinearSVC

    def joined(rows: FeatureRows) -> sparse.csr_matrix:
        assert rows.dense is not None
        return sparse.hstack([rows.sparse, sparse.csr_matrix(rows.dense)]).tocsr()

    features = sparse.vstack([joined(rated), joined(pool)[background]]).tocsr()
    labels = np.r_[np.array(liked, dtype=np.int64), np.zeros(len(background), np.int64)]
    model = LinearSVC(C=SVM_C, class_weight="balanced", max_iter=100_000, tol=1e-10)
    return np.asarray(model.fit(features, labels).decision_function(joined(pool)))


def test_the_closed_form_is_the_svm_liblinear_would_train(monkeypatch: pytest.MonkeyPatch) -> None:
    pool, _ = _day2(per_theme=8)
    rng = np.random.default_rng(3)
    dense = rng.standard_normal((len(pool) + 6, 8)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    part = np.float32(np.sqrt(0.5))
    rows = FeatureRows(pool.matrix * part, dense[: len(pool)] * part)
    monkeypatch.setattr(learned, "BACKGROUND_PAPERS", 20)  # a sample, not the whole pool
    background = learned.background_sample(len(pool))
    outside = [_paper("robots", 1), _paper("robots", 2), _paper("agents", 3)]
    inside = int(background[5])  # rated up, and in the background: left out of it
    texts = [*outside, pool.papers[inside].text]
    rated = FeatureRows(
        pool.vectors(texts) * part, np.vstack([dense[len(pool) :][:3], dense[inside]]) * part
    )
    liked = [True, True, False, True]
    models = learned.LearnedModels(rows, background)
    scores, solved = models.scores(
        learned.Ratings(rated, np.zeros(4, np.int64), np.array(liked), [[5]]), 1
    )
    reference = _reference_svm(rows, rated, liked, [int(i) for i in background if i != inside])
    assert solved.tolist() == [True]
    assert np.corrcoef(scores[0], reference)[0, 1] > 0.999
    assert np.argsort(-scores[0])[:5].tolist() == np.argsort(-reference)[:5].tolist()


def test_the_model_scores_do_not_depend_on_who_is_trained_alongside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool, _ = _day2()
    profiles = [
        SubscriberProfile(
            i,
            size=6,
            liked=(_paper("robots", i), _paper(("diffusion", "proofs")[i % 2], i)),
            disliked=(_paper("agents", i),) * (i % 3),
        )
        for i in range(7)
    ]
    together = personalize(pool, profiles, BLEND)
    monkeypatch.setattr(learned, "GROUP", 2)
    assert personalize(CandidatePool(pool.papers), profiles, BLEND) == together
    assert [personalize(pool, [p], BLEND)[0] for p in profiles] == together


def test_a_paper_on_their_subject_that_shares_words_with_one_rated_down_still_comes_first() -> None:
    # Someone who likes robot grasping and rated one diffusion paper down: a grasping paper
    # that uses a diffusion policy is still theirs, ahead of papers on other subjects.
    pool, themes = _day2()
    hybrid = PaperText(
        "Robot Grasping Manipulation Arm With Diffusion Policies",
        "Robot arms grasp household objects with tactile manipulation policies; a latent "
        "diffusion policy denoises the arm's actions.",
    )
    papers = [*pool.papers, PoolPaper(len(pool) + 1, hybrid, trend=0.5)]
    pool = CandidatePool(papers)
    themes = [*themes, "robots and diffusion"]
    rater = SubscriberProfile(
        1, size=6, liked=(_paper("robots", 1),), disliked=(_paper("diffusion", 2),)
    )
    [picks] = personalize(pool, [rater], BLEND)
    chosen = _themes(picks, themes)
    assert chosen[:5] == ["robots"] * 4 + ["robots and diffusion"]
    assert "diffusion" not in chosen


def test_the_papers_the_profile_ranks_highest_are_not_the_models_negatives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The background the model learns against is the pool, which holds the papers the
    # subscriber wants: the profile's top few are left out of their negatives.
    pool, themes = _day2()
    rater = SubscriberProfile(
        1,
        size=4,
        liked=(_paper("robots", 1), _paper("robots", 2)),
        disliked=(_paper("agents", 3),),
    )
    seen: list[list[list[int]]] = []
    scored: list[npt.NDArray[np.float32]] = []
    original = learned.LearnedModels.scores

    def recording(
        self: learned.LearnedModels, ratings: learned.Ratings, count: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        seen.append([list(e) for e in ratings.excluded])
        scores, solved = original(self, ratings, count)
        scored.append(scores[0])
        return scores, solved

    monkeypatch.setattr(learned.LearnedModels, "scores", recording)
    assert personalize_module.PROFILE_TOP_NOT_NEGATIVE == 3
    personalize(pool, [rater], BLEND)
    monkeypatch.setattr(personalize_module, "PROFILE_TOP_NOT_NEGATIVE", 0)
    personalize(CandidatePool(pool.papers), [rater], BLEND)

    robots = [i for i, theme in enumerate(themes) if theme == "robots"]
    left_out, kept = seen
    assert len(left_out[0]) == 3
    assert set(left_out[0]) < set(robots)  # the background is the whole (small) pool
    assert kept == [[]]
    # Not taught that they are unwanted, those papers score higher against the rest.
    left_out_scores, as_negatives_scores = (np.asarray(s) for s in scored)
    gap = [
        s[left_out[0]].mean() - np.delete(s, robots).mean()
        for s in (left_out_scores, as_negatives_scores)
    ]
    assert gap[0] > gap[1]
