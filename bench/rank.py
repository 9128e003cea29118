"""Bulk ranking speed: every subscriber's edition from one candidate pool, in one run.

    .venv/bin/python -m bench.rank [--papers 5000] [--subscribers 10000 100000]

Builds the pool once (tf-idf over all candidates), then personalises for each subscriber
count, reporting seconds, microseconds per subscriber (flat = linear cost) and the peak
resident memory of the process.
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from bench.synthetic import make_follows, make_papers
from digest.rank.personalize import SubscriberProfile, personalize
from digest.rank.pool import CandidatePool
from digest.settings import BlendSettings


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--papers", type=int, default=5000)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    rng = random.Random(7)

    started = time.perf_counter()
    papers = make_papers(args.papers, rng)
    pool = CandidatePool([p.pool_paper for p in papers])
    pool_seconds = time.perf_counter() - started
    print(f"pool: {args.papers} papers, {pool.matrix.shape[1]} features, {pool_seconds:.2f}s")

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
