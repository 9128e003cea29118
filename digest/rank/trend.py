"""The trend score: recent engagement velocity, discussion and totals under an age decay.

    gain_u  = upvotes gained over the last `window` hours (all of them if the paper was
              listed within the window; else the difference to the snapshot at its start)
    gain_s  = GitHub stars gained over the same window, likewise
    points  = w_velocity * gain_u + w_stars * sqrt(gain_s) + w_comments * comments
              + w_total * upvotes
    score   = (points + 1) / (age_hours + 2) ** gravity

In the spirit of Hacker News' gravity formula: a paper climbing fast today beats one that
collected its votes last week. Weights, window and gravity are settings.
"""

from __future__ import annotations

import math
from datetime import datetime

from digest.papers import PaperSignals, TrendScore
from digest.settings import TrendWeights


def _gain(now_value: int, before: int | None, listed_recently: bool) -> int:
    if listed_recently or before is None:
        return max(now_value, 0)
    return max(now_value - before, 0)


def score_trend(item: PaperSignals, now: datetime, weights: TrendWeights) -> TrendScore:
    age_hours = max((now - item.listed_at).total_seconds() / 3600.0, 0.0)
    recent = age_hours <= weights.window_hours
    upvote_gain = _gain(item.upvotes, item.upvotes_before, recent)
    star_gain = _gain(item.stars or 0, item.stars_before, recent)
    points = (
        weights.velocity * upvote_gain
        + weights.stars * math.sqrt(star_gain)
        + weights.comments * item.comments
        + weights.total * item.upvotes
    )
    score = float((points + 1.0) / (age_hours + 2.0) ** weights.gravity)
    return TrendScore(item.paper_id, score, upvote_gain, star_gain)


def rank_by_trend(
    items: list[PaperSignals], now: datetime, weights: TrendWeights
) -> list[tuple[PaperSignals, TrendScore]]:
    """Highest score first; ties broken by more upvotes, then the lower paper id (stable)."""
    scored = [(item, score_trend(item, now, weights)) for item in items]
    scored.sort(key=lambda pair: (-pair[1].score, -pair[0].upvotes, pair[0].paper_id))
    return scored
