"""Offline evaluation: does personalisation beat the shared trending list?

    .venv/bin/python -m bench.eval_ranking [--subscribers 2000] [--papers 1000]

Synthetic subscribers have hidden interests (one or two topics). What they follow is a
noisy hint of those interests (one word of each topic, sometimes the arXiv category, and a
fifth follow nothing). Day 1 they receive their edition and rate three of its papers
("more like this" if the paper is about one of their interests, "less" otherwise). Day 2
brings new papers. precision@10 is the share of an edition's ten papers that match the
subscriber's hidden interests, averaged over subscribers.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import replace
from statistics import mean

from bench.synthetic import SyntheticPaper, make_follows, make_papers
from digest.rank.personalize import Pick, SubscriberProfile, personalize
from digest.rank.pool import CandidatePool
from digest.settings import BlendSettings

SIZE = 10
RATINGS_PER_SUBSCRIBER = 3


def precision(picks: list[Pick], papers: list[SyntheticPaper], interests: set[str]) -> float:
    return sum(papers[p.pool_index].topic in interests for p in picks[:SIZE]) / SIZE


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--papers", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(11)
    blend = BlendSettings()

    day1, day2 = make_papers(args.papers, rng), make_papers(args.papers, rng)
    pool1 = CandidatePool([p.pool_paper for p in day1])
    pool2 = CandidatePool([p.pool_paper for p in day2])
    people = [make_follows(rng) for _ in range(args.subscribers)]
    profiles = [SubscriberProfile(i, follows, size=SIZE) for i, (follows, _) in enumerate(people)]

    first = personalize(pool1, profiles, blend)
    rated = []
    for profile, picks, (_, interests) in zip(profiles, first, people, strict=True):
        sample = rng.sample(picks, min(RATINGS_PER_SUBSCRIBER, len(picks)))
        liked = [
            day1[p.pool_index].pool_paper.text
            for p in sample
            if day1[p.pool_index].topic in interests
        ]
        disliked = [
            day1[p.pool_index].pool_paper.text
            for p in sample
            if day1[p.pool_index].topic not in interests
        ]
        rated.append(replace(profile, liked=tuple(liked), disliked=tuple(disliked)))

    trending = personalize(pool2, [SubscriberProfile(-1, size=SIZE)], blend)[0]
    follows_only = personalize(pool2, profiles, blend)
    with_feedback = personalize(pool2, rated, blend)

    def report(label: str, members: list[int]) -> None:
        interests = [people[i][1] for i in members]
        base = mean(precision(trending, day2, x) for x in interests)
        follow = mean(precision(follows_only[i], day2, people[i][1]) for i in members)
        learned = mean(precision(with_feedback[i], day2, people[i][1]) for i in members)
        print(
            f"{label:<28} n={len(members):>5}  trending {base:.3f}  "
            f"follows {follow:.3f}  follows+feedback {learned:.3f}  "
            f"(x{learned / base:.1f} over trending)"
        )

    everyone = list(range(len(people)))
    print(f"precision@{SIZE} on day 2 ({args.papers} new papers, {len(people)} subscribers)")
    report("all subscribers", everyone)
    report("follow something", [i for i in everyone if not people[i][0].empty])
    report("follow nothing", [i for i in everyone if people[i][0].empty])


if __name__ == "__main__":
    main()
