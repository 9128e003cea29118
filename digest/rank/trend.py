"""The first trend score: engagement points divided by an age penalty (HN-style gravity).

    points = upvotes + 2 * comments + sqrt(github_stars)
    score  = (points + 1) / (age_hours + 2) ** GRAVITY

Age counts from the day the paper was featured (or published, if never featured) to the
moment the edition is built, so a paper that collected its votes last week sinks below
one that is climbing today.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

GRAVITY = 1.8
COMMENT_WEIGHT = 2.0


@dataclass(frozen=True)
class TrendInput:
    paper_id: int
    upvotes: int
    comments: int
    stars: int | None
    listed_at: datetime  # when the paper started to collect signals


def listed_moment(
    listed_on: date | None, published_at: datetime | None, fallback: datetime
) -> datetime:
    """The moment a paper entered the trending pool."""
    if listed_on is not None:
        return datetime.combine(listed_on, time(0, 0), tzinfo=UTC)
    if published_at is not None:
        return published_at
    return fallback


def trend_score(item: TrendInput, now: datetime) -> float:
    points = item.upvotes + COMMENT_WEIGHT * item.comments + math.sqrt(max(item.stars or 0, 0))
    age_hours = max((now - item.listed_at).total_seconds() / 3600.0, 0.0)
    return float((points + 1.0) / (age_hours + 2.0) ** GRAVITY)


def rank_by_trend(items: list[TrendInput], now: datetime) -> list[tuple[TrendInput, float]]:
    """Highest score first; ties broken by more upvotes, then the lower paper id (stable)."""
    scored = [(item, trend_score(item, now)) for item in items]
    scored.sort(key=lambda pair: (-pair[1], -pair[0].upvotes, pair[0].paper_id))
    return scored
