"""The one short line that says why a paper is in this reader's digest."""

from __future__ import annotations

from digest.rank.features import matched_follows
from digest.rank.personalize import MIN_RELEVANCE, Pick, SubscriberProfile
from digest.rank.pool import CandidatePool

MAX_MATCHES_SHOWN = 2


def why_line(
    pool: CandidatePool, pick: Pick, profile: SubscriberProfile, window_hours: float
) -> str:
    """E.g. "+212 upvotes in 24h · matches 'diffusion'"."""
    paper = pool.papers[pick.pool_index]
    parts: list[str] = []
    window = f"{window_hours:g}h"
    if paper.upvote_gain > 0:
        parts.append(
            f"+{paper.upvote_gain} upvote{'s' if paper.upvote_gain != 1 else ''} in {window}"
        )
    elif paper.star_gain > 0:
        parts.append(f"+{paper.star_gain} GitHub stars in {window}")
    matches = matched_follows(profile.follows, pool.feature_sets[pick.pool_index])
    if matches:
        parts.append("matches " + ", ".join(matches[:MAX_MATCHES_SHOWN]))
    elif (profile.liked or profile.disliked) and pick.relevance > MIN_RELEVANCE:
        parts.append("like papers you rated up")
    elif pick.pool_index == 0:
        parts.append("top trending today")
    elif profile.personal:
        parts.append("trending today")
    return " · ".join(parts)
