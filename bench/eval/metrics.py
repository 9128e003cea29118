"""Scoring one edition against graded relevance: precision@k, nDCG@k, recall of the best match.

A paper's grade for a subscriber is 2 when its main theme is one of theirs, plus 1 when
another of its themes is: 0 (unrelated) to 3 (both). A subscriber with nothing to go on
(no follows, no ratings) is scored against the day's trend instead: the top paper 3, the
next two 2, the rest of the top ten 1, so the trending list is their ideal edition.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.eval.data import EvalPaper

K = 10


def theme_grade(paper: EvalPaper, themes: Sequence[str]) -> int:
    if not paper.themes:
        return 0
    main = 2 if paper.themes[0] in themes else 0
    other = 1 if any(t in themes for t in paper.themes[1:]) else 0
    return main + other


def trend_grades(day2_in_trend_order: Sequence[EvalPaper], k: int = K) -> dict[str, int]:
    return {p.id: 3 if i == 0 else 2 if i < 3 else 1 for i, p in enumerate(day2_in_trend_order[:k])}


def precision_at(edition: Sequence[str], grades: Mapping[str, int], k: int = K) -> float:
    """Share of k slots holding a relevant paper (a short edition loses the empty slots)."""
    return sum(grades.get(paper, 0) > 0 for paper in edition[:k]) / k


def ndcg_at(edition: Sequence[str], grades: Mapping[str, int], k: int = K) -> float:
    """Linear-gain nDCG@k against the best possible order of all graded papers."""
    ideal = sorted(grades.values(), reverse=True)[:k]
    best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    if best <= 0:
        return 0.0
    gained = sum(grades.get(p, 0) / math.log2(i + 2) for i, p in enumerate(edition[:k]))
    return gained / best


def best_match_recall(edition: Sequence[str], grades: Mapping[str, int], k: int = K) -> float:
    """Share of the top-graded papers that made the first k (of at most k of them).

    With a single best match this is 1 when it is in the edition, else 0.
    """
    top = max(grades.values(), default=0)
    if top <= 0:
        return 0.0
    best = {p for p, g in grades.items() if g == top}
    return len(best.intersection(edition[:k])) / min(k, len(best))


@dataclass(frozen=True)
class EditionScore:
    precision: float
    ndcg: float
    best: float
    length: int


def score_edition(edition: Sequence[str], grades: Mapping[str, int], k: int = K) -> EditionScore:
    return EditionScore(
        precision_at(edition, grades, k),
        ndcg_at(edition, grades, k),
        best_match_recall(edition, grades, k),
        min(len(edition), k),
    )
