"""Each subscriber's edition of a day: their profile, their picks from the pool, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.orm import Session

from digest.papers import EditionEntry
from digest.pipeline.pool import DayPool
from digest.rank.features import Follows
from digest.rank.personalize import Pick, SubscriberProfile, personalize
from digest.rank.why import why_line
from digest.settings import RankingSettings
from digest.store.models import Subscriber
from digest.store.profiles import papers_received, ratings_of


def follows_of(subscriber: Subscriber) -> Follows:
    return Follows(
        topics=tuple(subscriber.topics),
        categories=tuple(subscriber.categories),
        authors=tuple(subscriber.authors),
    )


def profiles_of(
    session: Session, subscribers: Sequence[Subscriber], pool: DayPool
) -> list[SubscriberProfile]:
    """Profiles in the order given: follows, ratings, and which pool papers they received."""
    ids = [subscriber.id for subscriber in subscribers]
    ratings = ratings_of(session, ids)
    received = papers_received(session, ids, list(pool.candidates.index))
    return [
        SubscriberProfile(
            subscriber_id=subscriber.id,
            follows=follows_of(subscriber),
            size=subscriber.edition_size,
            liked=tuple(ratings[subscriber.id].liked),
            disliked=tuple(ratings[subscriber.id].disliked),
            received=frozenset(received[subscriber.id]),
        )
        for subscriber in subscribers
    ]


def pick_editions(
    pool: DayPool, profiles: Sequence[SubscriberProfile], ranking: RankingSettings
) -> list[list[EditionEntry]]:
    """Each profile's edition: its papers ranked, each with its "why it's here" line.

    Without `skip_empty_days`, a follower with no match that day gets the trending papers.
    """
    all_picks = personalize(pool.candidates, profiles, ranking.blend)
    if not ranking.skip_empty_days:
        fallback = [i for i, picks in enumerate(all_picks) if not picks and profiles[i].personal]
        trending_only = [
            replace(profiles[i], follows=Follows(), liked=(), disliked=()) for i in fallback
        ]
        for i, picks in zip(
            fallback, personalize(pool.candidates, trending_only, ranking.blend), strict=True
        ):
            all_picks[i] = picks
    window = ranking.trend.window_hours
    return [
        _entries(pool, picks, profile, window)
        for picks, profile in zip(all_picks, profiles, strict=True)
    ]


def _entries(
    pool: DayPool, picks: list[Pick], profile: SubscriberProfile, window: float
) -> list[EditionEntry]:
    return [
        replace(
            pool.entries[pick.pool_index],
            rank=rank,
            score=pick.score,
            why=why_line(pool.candidates, pick, profile, window),
        )
        for rank, pick in enumerate(picks, start=1)
    ]
