"""Copies of a paper sent before: another id, a new version, a retitled or reworded one."""

from __future__ import annotations

import pytest

from digest.papers import PaperText
from digest.rank import dedupe
from digest.rank.dedupe import copies_of, title_key
from digest.settings import Settings

ABSTRACT = (
    "We propose a sparse mixture of experts that routes each token to two experts, train "
    "it on three trillion tokens, and match a dense model of four times the compute on "
    "reasoning, coding and translation benchmarks while halving the serving cost."
)
SENT = PaperText("Sparse Experts at Scale", ABSTRACT)


def test_the_same_title_is_the_same_work_whatever_the_abstract() -> None:
    relisted = PaperText("Sparse experts at scale!", "A different summary of it.")
    assert copies_of([relisted], [SENT]) == [[0]]
    assert title_key("Sparse Experts: at Scale") == title_key("sparse experts at scale")


def test_the_same_abstract_under_a_new_title_is_the_same_work() -> None:
    renamed = PaperText("Routing tokens to two experts", ABSTRACT)
    assert copies_of([renamed], [SENT]) == [[0]]


def test_a_new_version_with_a_reworded_title_and_abstract_is_the_same_work() -> None:
    revised = PaperText(
        "Sparse Experts at Scale (v2): Cheaper Serving",
        ABSTRACT.replace("three trillion", "four trillion").replace("halving", "cutting")
        + " Code and weights are released.",
    )
    assert copies_of([revised], [SENT]) == [[0]]


def test_other_papers_on_the_same_subject_are_not_copies() -> None:
    neighbours = [
        PaperText(
            "Dense models still win at small scale",
            "We compare a dense model with a mixture of experts at equal compute on "
            "reasoning benchmarks and find the dense one ahead below a billion parameters.",
        ),
        PaperText(
            "Expert routing collapses without balancing",
            "Routing each token to experts needs an auxiliary loss; without it a few experts "
            "take every token. We propose a loss-free balancing scheme for training.",
        ),
        PaperText("Sparse experts", "Short."),
    ]
    assert copies_of(neighbours, [SENT]) == [[]]


def test_too_little_text_is_never_called_a_copy_by_resemblance() -> None:
    # Titles only: most word pairs shared, yet two different papers.
    assert copies_of(
        [PaperText("Video diffusion models at scale")], [PaperText("Video diffusion models")]
    ) == [[]]


def test_each_earlier_paper_gets_its_copies_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dedupe, "SEEN_CHUNK", 2)
    others = [
        PaperText(f"Unrelated study number {i}", f"About subject {i} alone.") for i in range(5)
    ]
    papers = [PaperText("Routing tokens to two experts", ABSTRACT), others[0], SENT]
    seen = [*others[1:], SENT]
    assert copies_of(papers, seen) == [[], [], [], [], [0, 2]]
    assert copies_of([], seen) == [[]] * 5
    assert copies_of(papers, []) == []


def test_a_pool_keeps_one_copy_by_the_same_rule() -> None:
    revised = PaperText("Sparse Experts at Scale, revised", ABSTRACT + " Code is released.")
    other = PaperText("Galaxy shapes from telescope images", "Morphology of distant galaxies.")
    # A cosine threshold no pair reaches: the copy is found by its word pairs.
    assert dedupe.duplicate_of([SENT, other, revised], 0.999) == [None, None, 0]


def test_the_share_of_common_word_pairs_that_makes_a_copy_is_a_setting() -> None:
    # Half the abstract rewritten: a quarter to a third of the word pairs still in common.
    sentences = ABSTRACT.split(", ")
    reworded = PaperText(
        "Experts, sparsely, at scale",
        ", ".join([*sentences[:2], "we route with a learned hash", "and halve the bill"]),
    )
    assert copies_of([reworded], [SENT]) == [[]]  # the default: half of them
    assert copies_of([reworded], [SENT], resemblance=0.2) == [[0]]
    assert dedupe.duplicate_of([SENT, reworded], 0.999) == [None, None]
    assert dedupe.duplicate_of([SENT, reworded], 0.999, resemblance=0.2) == [None, 0]


def test_the_near_duplicate_settings_reach_the_ranking_settings() -> None:
    ranking = Settings(
        near_duplicate_similarity=0.9,
        near_duplicate_resemblance=0.7,
        near_duplicate_lookback_days=30,
    ).ranking
    assert ranking.near_duplicate_similarity == 0.9
    assert ranking.near_duplicate_resemblance == 0.7
    assert ranking.near_duplicate_lookback_days == 30
    defaults = Settings().ranking
    assert (defaults.near_duplicate_resemblance, defaults.near_duplicate_lookback_days) == (
        dedupe.COPY_RESEMBLANCE,
        90,
    )
