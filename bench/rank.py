"""Bulk ranking speed: every subscriber's edition from one candidate pool, in one run.

    .venv/bin/python -m bench.rank [--papers 5000] [--subscribers 10000 100000] [--dense 384]
        [--rated 0.2 [0 ...]] [--history 2000]

Builds the pool once (tf-idf over all candidates), then personalises for each subscriber
count, reporting seconds, microseconds per subscriber (flat = linear cost) and the peak
resident memory of the process. `--dense D` gives the pool D-dimensional unit vectors per
paper, as stored at ingest, and a stand-in model for typed follows (a hash of the text, at
no cost, so the figure is ranking's own; the real model embeds each distinct text once per
pool). A `--rated` share of the subscribers have rated 5 to 10 papers (three in four up,
on their topics; down, on others), half of them earlier papers (`--history`), half papers
of the pool they received: with DIGEST_LEARNED_MIN_RATINGS (3) or more, each of those
ranks with their own rating-trained model. Several shares (`--rated 0 0.2`) are run in
turn at each count: their ratio holds on a machine other work shares. `--community off on`
runs each also with what the other raters of each subscriber's topics rated up
(digest.rank.community), built from the run's subscribers, and says what building it and
looking it up took.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from bench.synthetic import SyntheticPaper, make_follows, make_papers
from digest.papers import PaperText
from digest.rank.community import Community, Reader
from digest.rank.embed import Vectors, unit_rows
from digest.rank.personalize import SubscriberProfile, personalize
from digest.rank.pool import CandidatePool
from digest.settings import Settings


class HashEmbedder:
    """Unit vectors seeded by each text's hash: the shape of a model, none of its cost."""

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions

    def encode(self, texts: Sequence[str]) -> Vectors:
        rows = [
            np.random.default_rng(int.from_bytes(hashlib.sha256(t.encode()).digest()[:8]))
            .standard_normal(self.dimensions)
            .astype(np.float32)
            for t in texts
        ]
        return unit_rows(np.array(rows, dtype=np.float32).reshape(len(texts), self.dimensions))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Raters:
    """Ratings as a subscriber leaves them: mostly up on their topics, some down on others."""

    def __init__(
        self, pool: list[SyntheticPaper], history: list[SyntheticPaper], rng: random.Random
    ) -> None:
        self.rng = rng
        self.pool: dict[str, list[SyntheticPaper]] = {}
        self.history: dict[str, list[SyntheticPaper]] = {}
        for papers, by_topic in ((pool, self.pool), (history, self.history)):
            for paper in papers:
                by_topic.setdefault(paper.topic, []).append(paper)

    def ratings(
        self, interests: set[str]
    ) -> tuple[tuple[PaperText, ...], tuple[PaperText, ...], set[int]]:
        """Liked and disliked papers, and the pool papers among them (received before)."""
        rng = self.rng
        count = rng.randint(5, 10)
        ups = max(1, round(count * 0.75))
        others = [topic for topic in self.pool if topic not in interests]
        liked: list[PaperText] = []
        disliked: list[PaperText] = []
        received: set[int] = set()
        for i in range(count):
            topic = rng.choice(sorted(interests) if i < ups else others)
            source = self.pool if rng.random() < 0.5 else self.history
            paper = rng.choice(source.get(topic) or self.pool[topic])
            (liked if i < ups else disliked).append(paper.pool_paper.text)
            if source is self.pool:
                received.add(paper.pool_paper.paper_id)
        return tuple(liked), tuple(disliked), received


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--papers", type=int, default=5000)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dense", type=int, default=0, help="embedding dimensions (0: none)")
    parser.add_argument(
        "--rated",
        type=float,
        nargs="+",
        default=[0.2],
        help="share of subscribers with ratings (0.2)",
    )
    parser.add_argument(
        "--history", type=int, default=2000, help="earlier papers ratings are drawn from"
    )
    parser.add_argument(
        "--community",
        nargs="+",
        choices=("off", "on"),
        default=["off"],
        help="without and/or with what other readers of a topic rated up",
    )
    args = parser.parse_args()
    rng = random.Random(7)

    started = time.perf_counter()
    papers = make_papers(args.papers, rng)
    raters = Raters(papers, make_papers(args.history, random.Random(8)), rng)
    if args.dense:
        embedder = HashEmbedder(args.dense)
        dense = unit_rows(
            np.random.default_rng(7).standard_normal((args.papers, args.dense), dtype=np.float32)
        )
        pool = CandidatePool([p.pool_paper for p in papers], dense=dense, embedder=embedder)
    else:
        pool = CandidatePool([p.pool_paper for p in papers])
    pool_seconds = time.perf_counter() - started
    vectors = f", {args.dense}-d vectors" if args.dense else ""
    print(
        f"pool: {args.papers} papers, {pool.matrix.shape[1]} features{vectors}, {pool_seconds:.2f}s"
    )

    blend = Settings.model_construct().ranking.blend  # the defaults
    per_subscriber = []
    runs = [
        (count, share, community)
        for count in args.subscribers
        for share in args.rated
        for community in args.community
    ]
    for count, rated, community in runs:
        profiles = []
        for i in range(count):
            follows, interests = make_follows(rng)
            received = set(rng.sample(range(1, args.papers + 1), 20))
            liked: tuple[PaperText, ...] = ()
            disliked: tuple[PaperText, ...] = ()
            if rng.random() < rated:
                liked, disliked, rated_received = raters.ratings(interests)
                received |= rated_received
            profiles.append(
                SubscriberProfile(
                    i,
                    follows,
                    size=10,
                    liked=liked,
                    disliked=disliked,
                    received=frozenset(received),
                )
            )
        shared = ""
        if community == "on":
            started = time.perf_counter()
            readers = Community(
                Reader(p.subscriber_id, p.follows.topics, p.liked) for p in profiles
            )
            profiles = [
                replace(p, community=tuple(readers.suggested(p.subscriber_id, p.follows.topics)))
                for p in profiles
            ]
            given = sum(1 for p in profiles if p.community)
            shared = (
                f", {given} given what others of their topics liked "
                f"({time.perf_counter() - started:.1f}s to gather)"
            )
        trained = sum(
            1
            for p in profiles
            if p.liked and len(p.liked) + len(p.disliked) >= blend.learned_min_ratings > 0
        )
        started = time.perf_counter()
        cpu = time.process_time()
        picks = personalize(pool, profiles, blend)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu
        assert len(picks) == count and all(len(p) == 10 for p in picks)
        per_subscriber.append(seconds / count * 1e6)
        print(
            f"{count:>7} subscribers x {args.papers} papers ({trained} with their own model"
            f"{shared}): "
            f"{seconds:6.1f}s, {cpu_seconds:.1f}s CPU ({per_subscriber[-1]:.0f} us/subscriber), "
            f"peak RSS {peak_rss_mb():.0f} MB"
        )
        del profiles, picks
    if len(per_subscriber) > 1:
        ratio = per_subscriber[-1] / per_subscriber[0]
        print(f"cost per subscriber, last run / first run: {ratio:.2f}")


if __name__ == "__main__":
    main()
