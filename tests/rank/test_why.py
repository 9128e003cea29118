"""The why-line: what matched, in the reader's words, or trend news the email does not show."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest

from digest.papers import EditionEntry, PaperText
from digest.pipeline.editions import pick_editions
from digest.pipeline.pool import DayPool
from digest.rank.features import Follows
from digest.rank.personalize import Pick, SubscriberProfile
from digest.rank.pool import CandidatePool, PoolPaper
from digest.rank.why import MAX_CHARS, WhyLines
from digest.render.digest import render_digest
from digest.settings import Settings
from tests.render.factories import part_text

# Twelve papers on twelve subjects, in trend order: (title, abstract, categories, authors).
PAPERS = [
    ("Scaling laws for language models", "Loss falls as a power law in tokens.", ["cs.CL"], []),
    ("Video diffusion at scale", "Denoising frames jointly keeps motion smooth.", ["cs.CV"], []),
    (
        "Multi-agent debate improves reasoning",
        "Several agents argue until they agree on an answer.",
        ["cs.AI"],
        ["Grace Hopper"],
    ),
    (
        "Dexterous robot hands grasp household objects",
        "Robot fingers pick cups and grasp household objects gently.",
        ["cs.RO"],
        [],
    ),
    (
        "Surface codes for quantum memory",
        "Qubits protected by stabiliser checks.",
        ["quant-ph"],
        [],
    ),
    (
        "Protein folding with attention",
        "Residue contacts predicted by a transformer.",
        ["q-bio.BM"],
        ["Ada Lovelace", "Alan Turing"],
    ),
    ("Weather forecasts from graph networks", "Global medium-range forecasting.", ["physics"], []),
    (
        "Sparse kernels on tensor cores",
        "Faster matrix products for pruned networks.",
        ["cs.PF"],
        [],
    ),
    ("Tabular data with gradient boosting", "Trees still win on spreadsheets.", ["cs.LG"], []),
    ("Speech recognition for dialects", "Acoustic models for rare accents.", ["eess.AS"], []),
    ("Legal contracts parsed by parsers", "Clauses extracted from statutes.", ["cs.CY"], []),
    ("Galaxy shapes from telescope images", "Morphology of distant galaxies.", ["astro-ph"], []),
]
# Upvotes shown in the email per paper, and the gain over the window: papers 0, 2 and 4 were
# listed before the window opened, so their gain is only part of what the email shows.
SHOWN_UPVOTES = [250, 180, 140, 120, 100, 90, 80, 70, 60, 50, 40, 30]
GAINS = [212, 180, 40, 120, 55, 90, 80, 70, 60, 50, 40, 30]


def _pool(gains: list[int] = GAINS, star_gains: list[int] | None = None) -> CandidatePool:
    stars = star_gains or [0] * len(PAPERS)
    return CandidatePool(
        [
            PoolPaper(
                i + 1,
                PaperText(title, abstract, categories=tuple(c), authors=tuple(a)),
                trend=float(len(PAPERS) - i),
                upvote_gain=gain,
                star_gain=star,
            )
            for i, ((title, abstract, c, a), gain, star) in enumerate(
                zip(PAPERS, gains, stars, strict=True)
            )
        ]
    )


def _entries(stars: list[int | None] | None = None) -> list[EditionEntry]:
    shown_stars = stars or [None] * len(PAPERS)
    return [
        EditionEntry(
            rank=i + 1,
            score=1.0,
            arxiv_id=f"2611.{i + 1:05d}",
            title=title,
            abstract=abstract,
            url=f"https://arxiv.org/abs/2611.{i + 1:05d}",
            authors=list(authors) or ["Nobody Inparticular"],
            upvotes=upvotes,
            comments=0,
            stars=star,
            paper_id=i + 1,
            categories=list(categories),
        )
        for i, ((title, abstract, categories, authors), upvotes, star) in enumerate(
            zip(PAPERS, SHOWN_UPVOTES, shown_stars, strict=True)
        )
    ]


def _line(
    index: int,
    profile: SubscriberProfile,
    position: int | None,
    pool: CandidatePool | None = None,
    shown: list[EditionEntry] | None = None,
) -> str:
    pool = pool or _pool()
    why = WhyLines(pool, 24, shown=_entries() if shown is None else shown, rated=profile.liked)
    return why.line(Pick(index, 1.0), profile, position)


def test_a_followed_topic_is_named_as_the_reader_typed_it() -> None:
    reader = SubscriberProfile(1, Follows(topics=("Multi-Agent",)))
    assert _line(2, reader, position=3) == "matches 'Multi-Agent' · +40 upvotes in 24h"
    # Elsewhere in the edition, its rank in the day's trend is news too.
    line = _line(2, reader, position=1)
    assert line == "matches 'Multi-Agent' · +40 upvotes in 24h, #3 trending today"


def test_a_followed_author_is_named_as_the_paper_spells_it() -> None:
    reader = SubscriberProfile(1, Follows(authors=("alan turing", "ada lovelace")))
    # The reader's order; the paper's spelling. Rank 6 is its number in this edition too.
    assert _line(5, reader, position=6) == "by Alan Turing and Ada Lovelace, whom you follow"


def test_a_followed_category_says_new_in_it() -> None:
    reader = SubscriberProfile(1, Follows(categories=("cs.ro",)))
    assert _line(3, reader, position=4) == "new in cs.RO"


def test_an_author_comes_before_a_topic_and_both_fit_on_one_line() -> None:
    reader = SubscriberProfile(1, Follows(topics=("debate",), authors=("Grace Hopper",)))
    line = _line(2, reader, position=1)
    assert line == "by Grace Hopper, whom you follow · matches 'debate'"


def test_a_pick_like_a_paper_rated_up_names_that_paper_by_a_short_title() -> None:
    liked = PaperText(
        "GraspNet: robot hands that grasp household objects",
        "Robot fingers grasp household objects.",
    )
    other = PaperText("Galaxy morphology", "Distant galaxies and their shapes.")
    reader = SubscriberProfile(1, liked=(other, liked))
    assert _line(3, reader, position=4) == 'like "GraspNet"'
    long_title = replace(liked, title="Robot hands that grasp household objects without any help")
    line = _line(3, SubscriberProfile(1, liked=(long_title,)), position=4)
    assert line == 'like "Robot hands that grasp household objects…"'
    assert len(line) <= MAX_CHARS


def test_no_like_when_the_pick_is_not_clearly_like_a_rated_paper() -> None:
    liked = PaperText("Robot hands that grasp household objects", "Robot fingers grasp cups.")
    # Paper 8 (tabular data) shares nothing with it; position 9 is its trend rank too.
    assert _line(8, SubscriberProfile(1, liked=(liked,)), position=9) == ""


def test_the_pick_itself_is_not_named_as_what_it_is_like() -> None:
    same = PaperText("Dexterous robot hands grasp household objects", "Robot fingers.")
    assert _line(3, SubscriberProfile(1, liked=(same,)), position=4) == ""


def test_a_trending_pick_gets_no_line_when_the_email_says_it_all() -> None:
    # Everyone's trending list: the paper's number is its trend rank, and its whole total
    # came in the window, so "+180 upvotes" would repeat the ▲ 180 just above.
    assert _line(1, SubscriberProfile(1), position=2) == ""
    assert _line(3, SubscriberProfile(1), position=4) == ""


def test_a_trending_pick_says_how_it_climbs_when_the_total_hides_it() -> None:
    # 250 upvotes shown, 212 of them in the window.
    assert _line(0, SubscriberProfile(1), position=1) == "+212 upvotes in 24h"
    # Nothing of it matched this follower: it is here as one of the day's top papers.
    follower = SubscriberProfile(1, Follows(topics=("galaxies",)))
    assert _line(0, follower, position=3) == "+212 upvotes in 24h, #1 trending today"
    assert _line(1, follower, position=5) == "#2 trending today"
    assert _line(1, follower, position=2) == ""


def test_the_trend_rank_is_told_only_to_readers_with_follows_or_ratings() -> None:
    # A trending list that starts at #3 because #1 and #2 came yesterday: the rank says
    # nothing the order does not.
    assert _line(3, SubscriberProfile(1, received=frozenset({1, 2})), position=2) == ""
    assert _line(3, SubscriberProfile(1, Follows(topics=("galaxies",))), position=2) == (
        "#4 trending today"
    )


def test_far_down_the_trend_order_the_rank_is_no_reason() -> None:
    assert _line(11, SubscriberProfile(1, Follows(topics=("robots",))), position=1) == ""


def test_stars_gained_are_told_only_when_they_are_not_the_whole_count() -> None:
    stars: list[int | None] = [None] * len(PAPERS)
    stars[6] = 900
    star_gains = [0] * len(PAPERS)
    star_gains[6] = 300
    gains = [*GAINS[:6], 0, *GAINS[7:]]
    pool = _pool(gains=gains, star_gains=star_gains)
    shown = _entries(stars)
    assert _line(6, SubscriberProfile(1), 7, pool, shown) == "+300 stars in 24h"
    stars[6] = 300
    assert _line(6, SubscriberProfile(1), 7, pool, _entries(stars)) == ""


def test_without_what_the_email_shows_a_gain_is_never_told() -> None:
    # Without `shown`, WhyLines does not know the signal line: it says nothing it might repeat.
    why = WhyLines(_pool(), 24)
    follower = SubscriberProfile(1, Follows(topics=("galaxies",)))
    assert why.line(Pick(0, 1.0), follower) == "#1 trending today"
    assert why.line(Pick(0, 1.0), follower, position=1) == ""
    assert why.line(Pick(1, 1.0), SubscriberProfile(1)) == ""


def test_a_long_line_keeps_to_one_line_and_two_parts() -> None:
    topic = "multi-agent debate improves reasoning: several agents argue until they agree"
    reader = SubscriberProfile(
        1, Follows(topics=("multi-agent", "debate", "reasoning"), authors=("Grace Hopper",))
    )
    line = _line(2, reader, position=1)
    assert line == "by Grace Hopper, whom you follow · matches 'multi-agent', 'debate'"
    long = _line(2, SubscriberProfile(1, Follows(topics=(topic,))), position=1)
    assert len(long) <= MAX_CHARS and long.endswith("…")


def test_lines_are_deterministic() -> None:
    liked = PaperText("Robot hands", "Robot fingers grasp household objects.")
    reader = SubscriberProfile(1, Follows(topics=("quantum",)), liked=(liked,))
    picks = [Pick(i, 1.0) for i in (4, 3, 0)]
    first = WhyLines(_pool(), 24, shown=_entries(), rated=[liked]).lines(picks, reader)
    again = WhyLines(_pool(), 24, shown=_entries(), rated=[liked]).lines(picks, reader)
    assert (
        first
        == again
        == [
            "matches 'quantum' · +55 upvotes in 24h, #5 trending today",
            'like "Robot hands" · #4 trending today',
            "+212 upvotes in 24h, #1 trending today",
        ]
    )


FIGURE = re.compile(r"\d[\d.,]*k?")


def _blocks(text: str) -> list[tuple[str, str]]:
    """(signal line, why-line) of each paper in the plain-text part."""
    found = []
    for block in re.split(r"\n(?=\d+\. )", text):
        signal = next((line for line in block.splitlines() if "▲" in line), "")
        why = next((line for line in block.splitlines() if "Why it's here:" in line), "")
        if signal:
            found.append((signal.strip(), why.partition("Why it's here:")[2].strip()))
    return found


@pytest.mark.parametrize(
    "profile",
    [
        SubscriberProfile(1, size=6),
        SubscriberProfile(2, Follows(topics=("robot hands", "quantum")), size=6),
        SubscriberProfile(3, size=6, received=frozenset({1, 2})),
        SubscriberProfile(4, Follows(authors=("Ada Lovelace",), categories=("cs.CV",)), size=6),
    ],
    ids=["trending", "topics", "trending-after-some-received", "author-and-category"],
)
def test_in_the_rendered_email_the_why_line_never_repeats_the_signal_line(
    settings: Settings, profile: SubscriberProfile
) -> None:
    day = date(2026, 11, 25)
    pool = DayPool(day, 1, _pool(), _entries())
    [entries] = pick_editions(pool, [profile], settings.ranking)
    message = render_digest(
        settings.email, subscriber_id=1, email="r@example.org", edition_date=day, entries=entries
    )
    blocks = _blocks(part_text(message, "plain"))
    assert len(blocks) == len(entries) >= 3
    for signal, why in blocks:
        assert not set(FIGURE.findall(signal)) & set(FIGURE.findall(why)), (signal, why)
        assert "upvote" not in why or "in 24h" in why
        assert len(why) <= MAX_CHARS
    html = part_text(message, "html")
    assert html.count("Why it's here:") == sum(1 for _, why in blocks if why)
    if profile.subscriber_id == 1:
        # A fresh trending list: numbers are trend ranks and most totals came in the window;
        # papers 1, 3 and 5 gathered votes before it.
        assert [why for _, why in blocks] == [
            "+212 upvotes in 24h",
            "",
            "+40 upvotes in 24h",
            "",
            "+55 upvotes in 24h",
            "",
        ]
