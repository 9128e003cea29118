from dataclasses import replace

from digest.papers import PaperText
from digest.rank.dedupe import duplicate_of
from digest.rank.features import Follows
from digest.rank.personalize import SubscriberProfile, personalize
from digest.rank.pool import CandidatePool, PoolPaper
from digest.rank.why import WhyLines
from tests.factories import DEFAULT_RANKING

BLEND = replace(DEFAULT_RANKING.blend, relevance_weight=0.6, feedback_weight=0.75, trending_slots=1)


def _pool() -> CandidatePool:
    papers = [
        ("Scaling laws for language models", "We train large language models.", ["cs.CL"], [], 9),
        ("Video diffusion models", "Diffusion for video generation.", ["cs.CV"], [], 6),
        (
            "Protein folding with transformers",
            "Biology meets attention.",
            ["q-bio.BM"],
            ["Ada Lovelace"],
            3,
        ),
        ("Robot arms learn to grasp", "Grasping with reinforcement learning.", ["cs.RO"], [], 2),
        ("Quantum error correction codes", "Surface codes.", ["quant-ph"], [], 1),
    ]
    return CandidatePool(
        [
            PoolPaper(
                i + 1, PaperText(t, a, categories=c, authors=au), trend, upvote_gain=trend * 10
            )
            for i, (t, a, c, au, trend) in enumerate(papers)
        ]
    )


def _ids(pool: CandidatePool, picks: list) -> list[int]:  # type: ignore[type-arg]
    return [pool.papers[pick.pool_index].paper_id for pick in picks]


def test_a_subscriber_who_follows_nothing_gets_the_trending_list() -> None:
    pool = _pool()
    [picks] = personalize(pool, [SubscriberProfile(1, size=3)], BLEND)
    assert _ids(pool, picks) == [1, 2, 3]


def test_follows_bring_matching_papers_first_and_keep_the_top_trending_one() -> None:
    pool = _pool()
    profiles = [
        SubscriberProfile(1, Follows(topics=["diffusion models"]), size=5),
        SubscriberProfile(2, Follows(authors=["ada lovelace"]), size=5),
        SubscriberProfile(3, Follows(categories=["cs.RO"]), size=5),
    ]
    diffusion, ada, robots = personalize(pool, profiles, BLEND)
    assert _ids(pool, diffusion) == [2, 1]  # the match, then one trending slot
    assert _ids(pool, ada)[0] == 3
    assert _ids(pool, robots)[0] == 4
    assert 5 not in _ids(pool, diffusion) + _ids(pool, ada) + _ids(pool, robots)


def test_received_papers_are_never_repeated_and_size_is_kept() -> None:
    pool = _pool()
    [picks] = personalize(pool, [SubscriberProfile(1, size=2, received=frozenset({1, 2}))], BLEND)
    assert _ids(pool, picks) == [3, 4]


def test_nothing_qualifies_gives_an_empty_list() -> None:
    pool = _pool()
    follower = SubscriberProfile(
        1, Follows(topics=["diffusion"]), size=5, received=frozenset({1, 2})
    )
    assert personalize(pool, [follower], BLEND) == [[]]


def test_feedback_moves_similar_papers_up_and_down() -> None:
    pool = _pool()
    base = SubscriberProfile(1, size=5)
    liked = SubscriberProfile(1, size=5, liked=[PaperText("Robots grasping objects")])
    disliked = SubscriberProfile(
        1, size=5, disliked=[PaperText("Scaling laws for language models")]
    )
    before, after, less = personalize(pool, [base, liked, disliked], BLEND)
    assert _ids(pool, before) == [1, 2, 3, 4, 5]  # pure trending
    assert _ids(pool, after)[0] == 4
    assert 1 not in _ids(pool, less)  # the disliked kind of paper is gone, top trend or not


def test_ranking_is_deterministic_and_chunking_does_not_change_it() -> None:
    pool = _pool()
    profiles = [SubscriberProfile(i, Follows(topics=["models"]), size=3) for i in range(7)]
    assert personalize(pool, profiles, BLEND) == personalize(pool, profiles, BLEND, chunk=2)


def test_why_line_names_the_velocity_and_the_match() -> None:
    pool = _pool()
    profile = SubscriberProfile(1, Follows(topics=["diffusion"]), size=1)
    [[pick]] = personalize(pool, [profile], BLEND)
    # The email shows the upvotes already: the line says what matched, and where the paper
    # stands in the day's trend when that is not its place in this edition.
    why = WhyLines(pool, 24)
    assert why.line(pick, profile) == "matches 'diffusion' · #2 trending today"
    [[top]] = personalize(pool, [SubscriberProfile(2, size=1)], BLEND)
    assert why.line(top, SubscriberProfile(2)) == ""  # nothing the email lacks


def test_near_duplicates_are_recognised() -> None:
    texts = [
        PaperText(
            "Attention is all you need", "We propose the transformer, based solely on attention."
        ),
        PaperText("Graph neural networks", "Message passing."),
        PaperText("Attention Is All You Need!", "Something else entirely."),
        PaperText(
            "Attention is all you need (v2)",
            "We propose the Transformer, based solely on attention!",
        ),
    ]
    assert duplicate_of(texts, 0.85) == [None, None, 0, 0]
