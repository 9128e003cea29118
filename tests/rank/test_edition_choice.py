"""Choosing an edition: quiet days, papers on one narrow thing, papers among their kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from digest.papers import PaperText
from digest.rank.embed import paper_text_for_embedding
from digest.rank.features import Follows
from digest.rank.personalize import Pick, SubscriberProfile, personalize
from digest.rank.pool import CandidatePool, PoolPaper
from tests.factories import DEFAULT_RANKING

NO_TRENDING_SLOTS = replace(DEFAULT_RANKING.blend, trending_slots=0)


class KeyEncoder:
    """A stand-in embedder: a text's vector is the unit sum of the keys it contains."""

    keys = ("robot", "diffusion", "agent", "proof", "walk")
    dimensions = len(keys)

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        rows = np.array(
            [[1.0 if key in t.lower() else 0.0 for key in self.keys] for t in texts],
            dtype=np.float32,
        )
        rows += 1e-3
        unit: npt.NDArray[np.float32] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        return unit


def _pool(texts: Sequence[tuple[str, str]], embedded: bool = True) -> CandidatePool:
    """A pool of (title, abstract) in trend order."""
    papers = [
        PoolPaper(i + 1, PaperText(title, abstract), trend=float(len(texts) - i))
        for i, (title, abstract) in enumerate(texts)
    ]
    if not embedded:
        return CandidatePool(papers)
    encoder = KeyEncoder()
    dense = encoder.encode([paper_text_for_embedding(p.text) for p in papers])
    return CandidatePool(papers, dense=dense, embedder=encoder)


def _titles(pool: CandidatePool, picks: Sequence[Pick]) -> list[str]:
    return [pool.papers[p.pool_index].text.title for p in picks]


def test_on_a_quiet_day_a_follower_gets_every_paper_about_their_topic() -> None:
    # A third of the day is about robots, in no word the follower typed: before, only
    # papers 1.5 standard deviations closer than the day's mean matched, and here none is.
    other = [(f"Agent benchmark {i}", "Tool calls.") for i in range(4)] + [
        (f"Diffusion sampler {i}", "Denoising.") for i in range(4)
    ]
    robots = [(f"Robot arm {i}", "Grasping.") for i in range(4)]
    pool = _pool(other + robots)
    follower = SubscriberProfile(1, Follows(topics=["robotics"]), size=4)
    [picks] = personalize(pool, [follower], NO_TRENDING_SLOTS)
    assert sorted(_titles(pool, picks)) == [f"Robot arm {i}" for i in range(4)]


def test_an_edition_holds_at_most_three_papers_on_one_narrow_thing_before_the_others() -> None:
    same = [(f"Robot grasping study {i}", "Grasping with robot hands.") for i in range(6)]
    related = [(f"Robot agent study {i}", "A robot agent plans.") for i in range(3)]
    unrelated = [(f"Diffusion sampler {i}", "Denoising images.") for i in range(3)]
    pool = _pool(same + related + unrelated)
    follower = SubscriberProfile(1, Follows(topics=["robot grasping"]), size=6)
    [picks] = personalize(pool, [follower], NO_TRENDING_SLOTS)
    titles = _titles(pool, picks)
    assert len(titles) == 6
    assert sum(t.startswith("Robot grasping") for t in titles[:5]) == 3
    assert {t for t in titles[3:5]} <= {f"Robot agent study {i}" for i in range(3)}
    assert not any(t.startswith("Diffusion") for t in titles)
    # Without embeddings nothing says two papers are one narrow thing: the order is kept.
    plain_pool = _pool(same + related + unrelated, embedded=False)
    [plain] = personalize(plain_pool, [follower], NO_TRENDING_SLOTS)
    assert _titles(plain_pool, plain) == [t for t, _ in same]


def test_a_match_among_papers_the_subscriber_wants_ranks_above_a_match_among_others() -> None:
    # The short title names the followed word, so its own match is the closest; but it sits
    # among music papers, and the network papers among network papers that match too: even
    # the one that names the word only in its abstract comes first.
    music = [("Graph music charts", "Songs and charts of the decade.")] + [
        (f"Music charts {w}", f"Songs and charts and {w} play.")
        for w in ("radio", "decade", "vinyl", "stream", "club", "tour")
    ]
    networks = [("Molecule message passing", "Message passing networks on atoms, as a graph.")]
    networks += [
        (f"Graph {w} networks", f"Message passing networks on {w} in graph form.")
        for w in ("protein", "crystal", "road", "social", "citation", "circuit")
    ]
    weather = [
        (f"{w} forecasting", f"{w} and wind and rain.")
        for w in ("Weather", "Ocean", "Storm", "Snow", "Heat", "Drought", "Flood", "Cloud")
    ]
    pool = _pool(music + networks + weather, embedded=False)
    follower = SubscriberProfile(1, Follows(topics=["graph"]), size=8)
    [picks] = personalize(pool, [follower], NO_TRENDING_SLOTS)
    titles = _titles(pool, picks)
    assert titles[:6] == [t for t, _ in networks[1:]]
    assert titles[6:] == ["Molecule message passing", "Graph music charts"]
