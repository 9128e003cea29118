"""Synthetic papers and subscribers for the ranking benchmarks (seeded, so repeatable)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from digest.papers import PaperText
from digest.rank.features import Follows
from digest.rank.pool import PoolPaper

TOPICS = {
    "diffusion": "diffusion denoising score sampler image generation latent noise",
    "language": "language model token llm pretraining instruction corpus text",
    "robotics": "robot grasp manipulation policy arm locomotion sim2real control",
    "graphs": "graph node edge message passing molecule gnn relational",
    "speech": "speech audio asr speaker waveform acoustic voice",
    "vision": "segmentation detection object pixel video camera scene",
    "theory": "bound convergence regret optimization convex proof complexity",
    "rl": "reinforcement reward agent exploration bandit policy value",
    "biology": "protein cell gene sequence folding molecular biology drug",
    "retrieval": "retrieval search ranking query index recommendation document",
    "security": "attack adversarial privacy jailbreak robustness defense poisoning",
    "efficiency": "quantization pruning sparse kernel memory inference throughput latency",
}
CATEGORIES = {
    "diffusion": "cs.CV", "language": "cs.CL", "robotics": "cs.RO", "graphs": "cs.LG",
    "speech": "eess.AS", "vision": "cs.CV", "theory": "stat.ML", "rl": "cs.LG",
    "biology": "q-bio.BM", "retrieval": "cs.IR", "security": "cs.CR", "efficiency": "cs.LG",
}  # fmt: skip
FILLER = [
    "we",
    "propose",
    "method",
    "results",
    "show",
    "novel",
    "approach",
    "benchmark",
    "experiments",
    "state",
    "art",
]
AUTHORS = [f"Author {i}" for i in range(400)]


@dataclass(frozen=True)
class SyntheticPaper:
    pool_paper: PoolPaper
    topic: str


def make_papers(count: int, rng: random.Random) -> list[SyntheticPaper]:
    """Papers each about one topic, with a heavy-tailed trend score, in trend order."""
    names = list(TOPICS)
    papers = []
    for i in range(count):
        topic = rng.choice(names)
        vocabulary = TOPICS[topic].split()
        title = " ".join(rng.sample(vocabulary, 3) + rng.sample(FILLER, 2))
        abstract = " ".join(rng.choices(vocabulary, k=12) + rng.choices(FILLER, k=20))
        text = PaperText(
            title=title,
            abstract=abstract,
            categories=(CATEGORIES[topic],),
            authors=tuple(rng.sample(AUTHORS, 3)),
        )
        trend = rng.paretovariate(1.5)
        papers.append(SyntheticPaper(PoolPaper(i + 1, text, trend, int(trend * 10)), topic))
    papers.sort(key=lambda p: -p.pool_paper.trend)
    return papers


def make_follows(rng: random.Random) -> tuple[Follows, set[str]]:
    """What a subscriber follows (sometimes nothing) and the topics they really care about."""
    interests = set(rng.sample(list(TOPICS), rng.choice((1, 1, 2))))
    roll = rng.random()
    if roll < 0.2:
        return Follows(), interests
    topics = [rng.choice(TOPICS[t].split()) for t in interests]
    if roll < 0.5:
        return Follows(topics=topics), interests
    return Follows(topics=topics, categories=[CATEGORIES[t] for t in interests]), interests
