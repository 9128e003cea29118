"""What other readers of a topic rated up: one topic however it is typed, never one other
reader's votes alone, never the reader's own, and it moves a follower's edition."""

from dataclasses import replace

import pytest

import digest.rank.personalize as personalize_module
from digest.papers import PaperText
from digest.rank.community import Community, Reader, topic_key
from digest.rank.features import Follows
from digest.rank.personalize import SubscriberProfile, personalize
from digest.rank.pool import CandidatePool, PoolPaper
from tests.factories import DEFAULT_RANKING

GRASP = PaperText("Dexterous grasping with tactile fingers", "Robot hands pick up objects.")
WALK = PaperText("Legged robots that walk on ice", "Quadrupeds learn to keep balance.")
TOKENS = PaperText("Tokenizers for code", "Byte pairs for programs.")


def test_a_topic_is_its_words_whatever_the_case_hyphens_order_or_plural() -> None:
    assert topic_key("Multi-Agent") == topic_key("multi agent") == topic_key("agents, multi")
    assert topic_key("robot learning") != topic_key("robot")
    assert topic_key("the") == ""  # stop words only: no topic


def test_two_other_readers_at_least_and_the_readers_own_votes_left_out() -> None:
    community = Community(
        [
            Reader(1, ["robot learning"], [GRASP, WALK]),
            Reader(2, ["Robot-Learning"], [GRASP]),
            Reader(3, ["code LLMs"], [TOKENS]),
            Reader(4, ["code LLMs"], []),  # rated nothing up: adds nothing
        ]
    )
    # A newcomer who types the topic gets what readers 1 and 2 rated up, most liked first.
    assert community.suggested(9, ["learning robots"]) == [(GRASP, 2), (WALK, 1)]
    # Reader 1 has one other reader of the topic: one person's votes are never shown.
    assert community.suggested(1, ["robot learning"]) == []
    # One reader of "code LLMs" rated something: not enough for anyone.
    assert community.suggested(9, ["code LLMs"]) == []
    assert community.suggested(9, ["quantum"]) == []
    assert community.suggested(9, ["robot learning"], limit=1) == [(GRASP, 2)]


def test_with_a_third_reader_their_own_votes_are_taken_away() -> None:
    community = Community(
        [
            Reader(1, ["robot learning"], [GRASP, WALK]),
            Reader(2, ["robot learning"], [GRASP]),
            Reader(3, ["robot learning"], [WALK]),
        ]
    )
    assert community.suggested(1, ["robot learning"]) == [(GRASP, 1), (WALK, 1)]
    assert community.suggested(3, ["robot learning"]) == [(GRASP, 2), (WALK, 1)]


def _pool() -> CandidatePool:
    papers = [
        ("Scaling laws for language models", "We train large language models.", 9),
        ("Video diffusion models", "Diffusion for video generation.", 6),
        ("Soft fingers that grasp fragile objects", "Tactile hands pick up eggs.", 2),
        ("Quantum error correction codes", "Surface codes.", 1),
    ]
    return CandidatePool(
        [
            PoolPaper(i + 1, PaperText(title, abstract), trend, upvote_gain=int(trend * 10))
            for i, (title, abstract, trend) in enumerate(papers)
        ]
    )


def test_what_others_of_the_topic_liked_brings_their_kind_of_paper_first() -> None:
    pool = _pool()
    blend = replace(DEFAULT_RANKING.blend, trending_slots=1)
    # "embodied AI" is not a word of any paper: on its own, it matches nothing.
    alone = SubscriberProfile(1, Follows(topics=["embodied AI"]), size=2)
    helped = replace(alone, community=((GRASP, 2), (WALK, 1)))
    [without], [with_community] = (
        personalize(pool, [alone], blend),
        personalize(pool, [helped], blend),
    )
    assert [pool.papers[p.pool_index].paper_id for p in without] == [1]  # the trending slot
    assert pool.papers[with_community[0].pool_index].paper_id == 3
    # Turned off, it changes nothing.
    off = replace(blend, community_weight=0.0)
    assert personalize(pool, [helped], off) == personalize(pool, [alone], off)


def test_the_same_editions_however_many_lists_a_pool_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = _pool()
    profiles = [
        SubscriberProfile(i, Follows(topics=["embodied AI"]), size=2, community=community)
        for i, community in enumerate(
            [((GRASP, 2),), ((WALK, 1),), ((GRASP, 2),), ((GRASP, 1), (TOKENS, 3))]
        )
    ]
    kept = personalize(pool, profiles, DEFAULT_RANKING.blend)
    # Room for one list: the second batch has one it kept and one it has not.
    monkeypatch.setattr(personalize_module, "COMMUNITY_LISTS_KEPT", 1)
    assert personalize(_pool(), profiles, DEFAULT_RANKING.blend, chunk=2) == kept
