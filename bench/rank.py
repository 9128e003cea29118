"""Bulk ranking speed: every subscriber's edition from one candidate pool, in one run.

    .venv/bin/python -m bench.rank [--papers 5000] [--subscribers 10000 100000] [--dense 384]

Builds the pool once (tf-idf over all candidates), then personalises for each subscriber
count, reporting seconds, microseconds per subscriber (flat = linear cost) and the peak
resident memory of the process. `--dense D` gives the pool D-dimensional unit vectors per
paper, as stored at ingest, and a stand-in model for typed follows (a hash of the text, at
no cost, so the figure is ranking's own; the real model embeds each distinct follow once).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import time
from collections.abc import Sequence

import numpy as np

from bench.synthetic import make_follows, make_papers
from digest.rank.embed import Vectors, unit_rows
from digest.rank.personalize import SubscriberProfile, personalize
from digest.rank.pool import CandidatePool
from digest.settings import BlendSettings


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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--papers", type=int, default=5000)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dense", type=int, default=0, help="embedding dimensions (0: none)")
    args = parser.parse_args()
    rng = random.Random(7)

    started = time.perf_counter()
    papers = make_papers(args.papers, rng)
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

    blend = BlendSettings()
    per_subscriber = []
    for count in args.subscribers:
        profiles = []
        for i in range(count):
            follows, _ = make_follows(rng)
            received = frozenset(rng.sample(range(1, args.papers + 1), 20))
            profiles.append(SubscriberProfile(i, follows, size=10, received=received))
        started = time.perf_counter()
        picks = personalize(pool, profiles, blend)
        seconds = time.perf_counter() - started
        assert len(picks) == count and all(len(p) == 10 for p in picks)
        per_subscriber.append(seconds / count * 1e6)
        print(
            f"{count:>7} subscribers x {args.papers} papers: {seconds:6.1f}s "
            f"({per_subscriber[-1]:.0f} us/subscriber), peak RSS {peak_rss_mb():.0f} MB"
        )
        del profiles, picks
    if len(per_subscriber) > 1:
        ratio = per_subscriber[-1] / per_subscriber[0]
        print(f"cost per subscriber, largest/smallest run: {ratio:.2f}")


if __name__ == "__main__":
    main()
