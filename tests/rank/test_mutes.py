"""Mutes on a pool: which papers a phrase or an author withholds, and which follows a mute
overrides."""

from __future__ import annotations

from digest.papers import PaperText
from digest.rank.features import Follows
from digest.rank.mutes import Mutes, conflicts, muted_papers
from digest.rank.pool import CandidatePool, PoolPaper

PAPERS = [
    PaperText(
        "Multi-Agent Benchmarks for Web Tasks",
        "We release a benchmark of browsing tasks.",
        authors=("Ada Lovelace",),
    ),
    PaperText("Agents that plan", "A multiagent planner for household robots."),
    PaperText("Diffusion policies", "Robot arms learn from demonstrations.", keywords=("RLHF",)),
    PaperText(
        "Quantum memories", "Surface codes, with a benchmarking appendix.", authors=("J. Müller",)
    ),
    PaperText("Chain of thought, revisited", "Reasoning traces help."),
]


def pool() -> CandidatePool:
    return CandidatePool(
        [PoolPaper(paper_id=i + 1, text=text, trend=10.0 - i) for i, text in enumerate(PAPERS)]
    )


def muted(*phrases: str, authors: tuple[str, ...] = ()) -> set[int]:
    return set(muted_papers(pool(), Mutes(phrases=phrases, authors=authors)))


def test_a_phrase_mutes_its_words_in_a_row_whatever_the_case_hyphens_and_plural() -> None:
    assert muted("benchmark") == {1}  # "benchmarking" is another word
    assert muted("Benchmarks") == {1}
    assert muted("multi-agent") == {1, 2}  # "Multi-Agent" and "multiagent"
    assert muted("multi agent") == {1, 2}
    assert muted("multiagent") == {1, 2}
    assert muted("chain-of-thought") == {5}
    assert muted("thought chain") == set()  # words out of order are not the phrase


def test_keywords_count_and_a_phrase_never_spans_two_fields() -> None:
    assert muted("rlhf") == {3}
    assert muted("policies robot") == set()  # end of the title, start of the abstract


def test_an_author_is_muted_by_name_whatever_the_case_accents_and_dots() -> None:
    assert muted(authors=("ada lovelace",)) == {1}
    assert muted(authors=("J Muller",)) == {4}
    assert muted(authors=("Lovelace",)) == set()  # a surname alone names nobody


def test_nothing_muted_mutes_nothing() -> None:
    assert muted() == set()
    assert muted("", "  ") == set()


def test_a_mute_inside_a_follow_and_an_author_both_followed_and_muted_are_named() -> None:
    follows = Follows(topics=("web agents", "diffusion"), authors=("Ada Lovelace", "Alan Turing"))
    found = conflicts(follows, Mutes(phrases=("Agent", "robotics"), authors=("ADA LOVELACE",)))

    assert [(c.kind, c.followed, c.muted) for c in found] == [
        ("topic", "web agents", "Agent"),
        ("author", "Ada Lovelace", "ADA LOVELACE"),
    ]
    assert "muted wins" in found[0].sentence()
    assert "'web agents'" in found[0].sentence() and "'Agent'" in found[0].sentence()


def test_a_narrower_mute_leaves_the_follow_alone() -> None:
    follows = Follows(topics=("diffusion",))

    assert conflicts(follows, Mutes(phrases=("diffusion policy",))) == []
    same = conflicts(follows, Mutes(phrases=("Diffusion",)))
    assert len(same) == 1 and same[0].sentence().startswith("You follow and mute 'diffusion'")
