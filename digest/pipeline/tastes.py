"""What shapes a subscriber's digest, as their preferences page shows it, and the ways to
reset it: the learning switch and "forget my ratings".

The page lists the follows (the form), the papers rated up and down, the seed papers, and —
once there are ratings or seed papers — the terms and papers that weigh most in their next
edition (`digest.rank.explain`). Every why-line in the email names one of these (an author,
topic or category they follow, a paper they rated up or gave) or the day's trend, which the
page explains too.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from digest.pipeline.editions import pick_editions, profiles_of
from digest.pipeline.pool import pool_by_id
from digest.rank.explain import what_weighs
from digest.settings import Settings
from digest.store.db import Database
from digest.store.feedback import RatedPaper, forget_votes, votes_of
from digest.store.models import Subscriber
from digest.store.pools import latest_pool
from digest.store.seeds import Seed, list_seeds, remove_seeds
from digest.store.subscribers import subscriber_for_token
from digest.tokens import TokenSubject


@dataclass(frozen=True)
class Tastes:
    learning: bool  # their ratings shape the ranking
    seeds: list[Seed] = field(default_factory=list)
    rated_up: list[RatedPaper] = field(default_factory=list)
    rated_down: list[RatedPaper] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)  # what weighs most in the next edition
    papers: list[str] = field(default_factory=list)  # titles of their papers most like it
    own_model: bool = False  # enough ratings for a model of their own

    @property
    def learned(self) -> bool:
        return bool(self.terms or self.papers)


def tastes_of(db: Database, settings: Settings, subscriber_id: int) -> Tastes:
    """Everything that shapes the subscriber's digest, for their preferences page."""
    with db.session() as session:
        subscriber = session.get_one(Subscriber, subscriber_id)
        learning = subscriber.learn_from_ratings
        votes = votes_of(session, subscriber_id)
        seeds = list_seeds(session, subscriber_id)
        latest = latest_pool(session)
        pool_id = latest.id if latest is not None else None
    tastes = Tastes(
        learning=learning,
        seeds=seeds,
        rated_up=[vote for vote in votes if vote.rating > 0],
        rated_down=[vote for vote in votes if vote.rating < 0],
    )
    pool = pool_by_id(db, pool_id, settings.ranking) if pool_id is not None else None
    if pool is None:
        return tastes
    with db.session() as session:
        [profile] = profiles_of(session, [session.get_one(Subscriber, subscriber_id)], pool)
    if not (profile.liked or profile.disliked):
        return tastes
    [entries] = pick_editions(pool, [profile], settings.ranking)
    picked = [
        pool.candidates.index[e.paper_id] for e in entries if e.paper_id in pool.candidates.index
    ]
    blend = settings.ranking.blend
    weights = what_weighs(pool.candidates, profile, picked, blend.feedback_weight)
    ratings = len(profile.liked) + len(profile.disliked)
    return replace(
        tastes,
        terms=weights.terms,
        papers=[paper.title for paper in weights.papers],
        own_model=blend.learned_min_ratings > 0 and ratings >= blend.learned_min_ratings,
    )


def set_learning(db: Database, subject: TokenSubject, on: bool) -> Subscriber:
    """Let the subscriber's ratings shape their ranking, or stop that (their votes are kept)."""
    with db.session() as session:
        subscriber = subscriber_for_token(session, subject, lock=True)
        subscriber.learn_from_ratings = on
        return subscriber


def forget_ratings(db: Database, subject: TokenSubject) -> int:
    """Delete every "more / less like this" vote of the subscriber; how many there were."""
    with db.session() as session:
        subscriber = subscriber_for_token(session, subject, lock=True)
        return forget_votes(session, subscriber.id)


def remove_seed_papers(db: Database, subject: TokenSubject, seed_ids: list[int] | None) -> int:
    """Remove some (or, for None, all) of the subscriber's seed papers; how many went."""
    with db.session() as session:
        subscriber = subscriber_for_token(session, subject, lock=True)
        return remove_seeds(session, subscriber.id, seed_ids)
