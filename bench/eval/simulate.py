"""Splits and simulated subscribers for the ranking evaluation, and a synthetic corpus.

Everything is drawn from a `random.Random` the caller seeds, so a seed gives the same
splits, trend signals and subscribers every time.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from bench.eval.data import EvalInputError, EvalPaper, EvalSubscriber, Group, Rating

# What a person would type to follow a theme: words of their own, not the corpus's. Some
# match abstracts literally ("diffusion"), others only in meaning ("agentic", "VLM").
TYPED_FOLLOWS: dict[str, tuple[str, ...]] = {
    "AGENT": (
        "agents", "agentic", "multi-agent", "tool use", "web agents", "LLM agents",
        "GUI agents", "autonomous agents",
    ),
    "REASON": (
        "reasoning", "chain-of-thought", "chain of thought", "CoT", "math reasoning",
        "theorem proving", "test-time scaling", "reasoning models",
    ),
    "LLMTRAIN": (
        "pretraining", "post-training", "LLM training", "instruction tuning", "scaling laws",
        "data curation", "SFT", "fine-tuning",
    ),
    "VLM": (
        "VLM", "vision-language", "multimodal", "MLLM", "multimodal LLM", "LVLM",
        "visual question answering",
    ),
    "GEN": (
        "diffusion", "text-to-image", "video generation", "image generation",
        "3D generation", "generative models", "flow matching",
    ),
    "DISTILL": (
        "distillation", "knowledge distillation", "small language models", "SLM",
        "model compression",
    ),
    "MTL": ("multi-task learning", "model merging", "multitask", "task arithmetic", "merging"),
    "RL": (
        "reinforcement learning", "RL", "RLHF", "policy optimization", "reward models",
        "GRPO", "PPO",
    ),
    "CONTINUAL": (
        "continual learning", "lifelong learning", "catastrophic forgetting",
        "incremental learning",
    ),
    "EFFICIENT": (
        "efficient inference", "quantization", "sparsity", "pruning", "KV cache",
        "speculative decoding", "efficient LLM",
    ),
    "NLP": (
        "NLP", "machine translation", "summarization", "question answering",
        "information extraction", "text classification",
    ),
    "ML": (
        "machine learning", "optimization", "deep learning theory", "generalization",
        "representation learning",
    ),
    "ROBOT": ("robotics", "robot learning", "embodied AI", "manipulation", "VLA"),
    "CV": (
        "computer vision", "segmentation", "object detection", "depth estimation",
        "image recognition",
    ),
    "SAFETY": ("AI safety", "alignment", "jailbreak", "red teaming", "LLM safety", "hallucination"),
    "KNOW": (
        "RAG", "retrieval-augmented generation", "knowledge graphs", "retrieval",
        "knowledge editing",
    ),
    "CODE": ("code generation", "code LLMs", "program synthesis", "coding", "SWE agents"),
}  # fmt: skip
# Broad words people add that match nearly everything: noise, not a hint.
BROAD_FOLLOWS = ("LLM", "large language models", "deep learning", "transformers", "AI")

GROUP_SHARES: dict[Group, float] = {"follows": 0.3, "ratings": 0.3, "both": 0.3, "neither": 0.1}
SECOND_THEME = 0.4  # share of subscribers with two hidden themes
SECOND_FOLLOW = 0.3  # chance of typing a second phrase for a theme
BROAD_FOLLOW = 0.15  # chance of adding a broad word
SURFACE_NOISE = 0.3  # chance a phrase is typed with other case or hyphenation
RATINGS = (2, 6)  # ratings a rater gives, inclusive
RATE_RELEVANT = 0.6  # chance a rated paper is picked among the relevant ones
WRONG_VOTE = 0.1  # chance a vote says the opposite of the hidden themes


@dataclass(frozen=True)
class Split:
    """One evaluation round: papers rated on day 1, papers ranked on day 2, the subscribers."""

    day1: list[EvalPaper]
    day2: list[EvalPaper]  # in trend order, every paper with upvotes
    subscribers: list[EvalSubscriber]

    @property
    def papers(self) -> list[EvalPaper]:
        return self.day1 + self.day2


def tie_break(paper_id: str) -> int:
    # Equal counts are common (2, 2, 2...): break ties by a hash rather than file order,
    # which follows the corpus's sources.
    return zlib.crc32(paper_id.encode())


def trend_order(papers: Sequence[EvalPaper]) -> list[EvalPaper]:
    """Most upvotes first (papers without a count last)."""
    return sorted(papers, key=lambda p: (-(p.upvotes or 0), tie_break(p.id)))


def draw_upvotes(papers: Sequence[EvalPaper], rng: random.Random) -> list[EvalPaper]:
    """Every paper with a count: a missing one is drawn from the known counts (or a Pareto)."""
    known = [p.upvotes for p in papers if p.upvotes is not None]

    def draw() -> int:
        if len(known) >= 5:
            return rng.choice(known)
        return int(rng.paretovariate(1.2) * 2) - 2

    return [p if p.upvotes is not None else replace(p, upvotes=draw()) for p in papers]


def split_days(papers: Sequence[EvalPaper], rng: random.Random) -> tuple[list[EvalPaper], ...]:
    """Half the papers (at random) are day 1, the rest day 2, unless the file says."""
    if all(p.day is not None for p in papers):
        day1 = [p for p in papers if p.day == 1]
        day2 = [p for p in papers if p.day == 2]
    else:
        shuffled = list(papers)
        rng.shuffle(shuffled)
        half = len(shuffled) // 2
        day1 = [replace(p, day=1) for p in shuffled[:half]]
        day2 = [replace(p, day=2) for p in shuffled[half:]]
    return day1, day2


def theme_weights(
    papers: Sequence[EvalPaper], typed: Mapping[str, Sequence[str]] = TYPED_FOLLOWS
) -> dict[str, int]:
    """How many papers carry each theme we can type a follow for: popular themes, more readers."""
    counts = Counter(t for p in papers for t in set(p.themes) if typed.get(t))
    return dict(sorted(counts.items()))


def _typed(phrase: str, rng: random.Random) -> str:
    if rng.random() >= SURFACE_NOISE:
        return phrase
    variants = [phrase.lower(), phrase.title()]
    if "-" in phrase:
        variants += [phrase.replace("-", " "), phrase.replace("-", "")]
    elif " " in phrase:
        variants.append(phrase.replace(" ", "-"))
    return rng.choice(variants)


def typed_follows(
    themes: Sequence[str],
    rng: random.Random,
    typed: Mapping[str, Sequence[str]] = TYPED_FOLLOWS,
) -> tuple[str, ...]:
    """What a person with these interests types: a phrase or two per theme, sometimes noise."""
    follows: list[str] = []
    for theme in themes:
        phrases = typed[theme]
        count = 2 if rng.random() < SECOND_FOLLOW and len(phrases) > 1 else 1
        follows += [_typed(p, rng) for p in rng.sample(phrases, count)]
    if rng.random() < BROAD_FOLLOW:
        follows.append(rng.choice(BROAD_FOLLOWS))
    return tuple(dict.fromkeys(follows))


def relevant_to(paper: EvalPaper, themes: Sequence[str]) -> bool:
    return any(t in themes for t in paper.themes)


def simulated_ratings(
    themes: Sequence[str], day1: Sequence[EvalPaper], rng: random.Random
) -> tuple[Rating, ...]:
    """A few votes on day-1 papers, mostly relevant ones, some of them wrong."""
    relevant = [p for p in day1 if relevant_to(p, themes)]
    chosen: dict[str, EvalPaper] = {}
    wanted = min(rng.randint(*RATINGS), len(day1))
    while len(chosen) < wanted:
        source = relevant if relevant and rng.random() < RATE_RELEVANT else day1
        paper = rng.choice(source)
        chosen.setdefault(paper.id, paper)
    return tuple(
        Rating(p.id, relevant_to(p, themes) != (rng.random() < WRONG_VOTE)) for p in chosen.values()
    )


def simulate_subscribers(
    count: int,
    day1: Sequence[EvalPaper],
    weights: dict[str, int],
    rng: random.Random,
    typed: Mapping[str, Sequence[str]] = TYPED_FOLLOWS,
) -> list[EvalSubscriber]:
    """`count` subscribers in the four groups, each with one or two hidden themes."""
    if not weights:
        raise EvalInputError(
            f"no paper has a theme the simulator can type follows for ({', '.join(typed)})"
        )
    names, shares = list(weights), list(weights.values())
    groups, group_shares = list(GROUP_SHARES), list(GROUP_SHARES.values())
    subscribers = []
    for i in range(count):
        themes = [rng.choices(names, shares)[0]]
        if rng.random() < SECOND_THEME and len(names) > 1:
            while (second := rng.choices(names, shares)[0]) == themes[0]:
                pass
            themes.append(second)
        group = rng.choices(groups, group_shares)[0]
        follows = typed_follows(themes, rng, typed) if group in ("follows", "both") else ()
        ratings = simulated_ratings(themes, day1, rng) if group in ("ratings", "both") else ()
        subscribers.append(EvalSubscriber(f"sim-{i:04d}", follows, ratings, tuple(themes)))
    return subscribers


def make_split(
    papers: Sequence[EvalPaper],
    subscribers: Sequence[EvalSubscriber] | None,
    per_split: int,
    rng: random.Random,
    typed: Mapping[str, Sequence[str]] = TYPED_FOLLOWS,
) -> Split:
    """One split: days, counts and subscribers as given, or drawn where missing."""
    day1, day2 = split_days(draw_upvotes(papers, rng), rng)
    if not day1 or not day2:
        raise EvalInputError("an evaluation needs papers on both day 1 and day 2")
    if subscribers is None:
        weights = theme_weights(papers, typed)
        subscribers = simulate_subscribers(per_split, day1, weights, rng, typed)
    return Split(day1, trend_order(day2), list(subscribers))


# The synthetic fallback: themes share words ("llm", "image", "training"...) and every
# abstract mixes in generic research prose, so a word alone rarely decides a theme.
SYNTHETIC_WORDS: dict[str, str] = {
    "AGENT": "agent agents tool web environment planning llm task multi-agent autonomous "
    "interaction browser api memory",
    "REASON": "reasoning math chain thought step problem llm solution verification proof "
    "test-time search reward",
    "LLMTRAIN": "pretraining data llm scaling training instruction tuning token corpus "
    "post-training mixture quality",
    "VLM": "vision-language visual image multimodal llm question answering grounding token "
    "caption encoder",
    "GEN": "diffusion image video generation text-to-image denoising latent synthesis 3d "
    "editing sampling",
    "DISTILL": "distillation teacher student small model compression knowledge llm training logits",
    "RL": "reinforcement policy reward rlhf preference optimization agent value training grpo",
    "EFFICIENT": "efficient inference quantization sparse pruning memory latency kv cache "
    "token speedup",
    "ROBOT": "robot manipulation embodied policy control grasp simulation vision action planning",
    "SAFETY": "safety alignment jailbreak attack harmful refusal llm red-teaming "
    "hallucination preference",
    "CODE": "code program generation software repository bug llm test execution agent",
    "CV": "segmentation detection image depth scene object video visual recognition pixel",
}
SYNTHETIC_PROSE = (
    "we propose a novel method framework approach that achieves state of the art results on "
    "challenging benchmarks experiments show significant improvements over strong baselines "
    "while reducing cost model performance analysis"
)

PROSE_WORDS = SYNTHETIC_PROSE.split()


def synthetic_papers(count: int, rng: random.Random) -> list[EvalPaper]:
    """Papers with one or two themes whose vocabularies overlap, and heavy-tailed upvotes."""
    names = list(SYNTHETIC_WORDS)
    papers = []
    for i in range(count):
        themes = [rng.choice(names)]
        if rng.random() < 0.5:
            themes.append(rng.choice([n for n in names if n != themes[0]]))
        main = SYNTHETIC_WORDS[themes[0]].split()
        other = SYNTHETIC_WORDS[themes[-1]].split()
        stray = SYNTHETIC_WORDS[rng.choice(names)].split()
        title = rng.sample(main, 2) + rng.sample(other, 1) + rng.sample(PROSE_WORDS, 2)
        abstract = (
            rng.choices(main, k=6)
            + rng.choices(other, k=3)
            + rng.choices(stray, k=4)
            + rng.choices(PROSE_WORDS, k=25)
        )
        rng.shuffle(abstract)
        papers.append(
            EvalPaper(
                id=f"syn-{i:04d}",
                title=" ".join(title).capitalize(),
                abstract=" ".join(abstract).capitalize() + ".",
                authors=tuple(f"Author {rng.randrange(300)}" for _ in range(3)),
                themes=tuple(dict.fromkeys(themes)),
                upvotes=int(rng.paretovariate(1.2) * 3) - 3,
            )
        )
    return papers
