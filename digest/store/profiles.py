"""What the store knows of subscribers' tastes: the papers they rated and those they got."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import literal_column, select, true
from sqlalchemy.orm import Session, defer

from digest.papers import PaperText
from digest.store.models import (
    Delivery,
    DeliveryPaper,
    Feedback,
    Paper,
    Pool,
    PoolItem,
    Subscriber,
    SubscriberState,
)


@dataclass
class Ratings:
    liked: list[PaperText] = field(default_factory=list)
    disliked: list[PaperText] = field(default_factory=list)


def ratings_of(session: Session, subscriber_ids: Sequence[int]) -> dict[int, Ratings]:
    """Each subscriber's "more like this" and "less like this" papers, oldest vote first."""
    ratings: dict[int, Ratings] = defaultdict(Ratings)
    for feedback, paper in session.execute(
        select(Feedback, Paper)
        .join(Paper, Paper.id == Feedback.paper_id)
        .where(Feedback.subscriber_id.in_(subscriber_ids))
        .order_by(Feedback.id)
    ):
        rated = ratings[feedback.subscriber_id]
        (rated.liked if feedback.rating > 0 else rated.disliked).append(PaperText.of(paper))
    return ratings


@dataclass(frozen=True)
class FollowerVotes:
    subscriber_id: int
    topics: list[str]
    liked: dict[int, PaperText]  # by paper id


def follower_votes(session: Session, since: datetime) -> list[FollowerVotes]:
    """The topics of every active subscriber who lets their ratings be learned from, and
    the papers they rated "more like this" since `since` (those who rated none: absent)."""
    liked: dict[int, list[int]] = defaultdict(list)
    topics: dict[int, list[str]] = {}
    for subscriber_id, subscriber_topics, paper_id in session.execute(
        select(Subscriber.id, Subscriber.topics, Feedback.paper_id)
        .join(Feedback, Feedback.subscriber_id == Subscriber.id)
        .where(
            Subscriber.state == SubscriberState.ACTIVE,
            Subscriber.learn_from_ratings.is_(True),
            Feedback.rating > 0,
            Feedback.updated_at >= since,
        )
        .order_by(Subscriber.id, Feedback.paper_id)
    ):
        if subscriber_topics:
            topics[subscriber_id] = list(subscriber_topics)
            liked[subscriber_id].append(paper_id)
    wanted = sorted({paper_id for ids in liked.values() for paper_id in ids})
    texts: dict[int, PaperText] = {}
    for start in range(0, len(wanted), 10_000):  # bounded IN lists
        for paper in session.scalars(
            select(Paper)
            .options(defer(Paper.embedding))  # the pipeline reads the vectors it needs
            .where(Paper.id.in_(wanted[start : start + 10_000]))
        ):
            texts[paper.id] = PaperText.of(paper)
    return [
        FollowerVotes(
            subscriber_id, topics[subscriber_id], {i: texts[i] for i in ids if i in texts}
        )
        for subscriber_id, ids in liked.items()
    ]


def papers_received(
    session: Session, subscriber_ids: Sequence[int], among: Collection[int]
) -> dict[int, set[int]]:
    """Which of the papers `among` each subscriber has already been sent."""
    received: dict[int, set[int]] = defaultdict(set)
    if session.get_bind().dialect.name == "postgresql":
        # From each subscriber's deliveries to their papers, whatever the statistics say:
        # a day's top papers are in nearly every delivery, so starting from the papers (as a
        # plan made while the table was small does) reads every copy sent so far. OFFSET 0
        # keeps the planner from flattening the lateral lookup back into that join.
        carried = (
            select(DeliveryPaper.paper_id)
            .where(DeliveryPaper.delivery_id == Delivery.id, DeliveryPaper.paper_id.in_(among))
            .offset(literal_column("0"))
            .lateral()
        )
        query = (
            select(Delivery.subscriber_id, carried.c.paper_id)
            .join(carried, true())
            .where(Delivery.subscriber_id.in_(subscriber_ids))
        )
    else:
        query = (
            select(Delivery.subscriber_id, DeliveryPaper.paper_id)
            .join(DeliveryPaper, DeliveryPaper.delivery_id == Delivery.id)
            .where(Delivery.subscriber_id.in_(subscriber_ids), DeliveryPaper.paper_id.in_(among))
        )
    for subscriber_id, paper_id in session.execute(query):
        received[subscriber_id].add(paper_id)
    return received


def papers_pooled_before(session: Session, day: date, days: int) -> dict[int, PaperText]:
    """Title and abstract of every paper in the pools of the `days` days before `day`: all
    that an edition of those days can have carried. One query."""
    in_pools = (
        select(PoolItem.paper_id)
        .join(Pool, Pool.id == PoolItem.pool_id)
        .where(Pool.date >= day - timedelta(days=days), Pool.date < day)
    )
    rows = session.execute(
        select(Paper.id, Paper.title, Paper.abstract).where(Paper.id.in_(in_pools))
    )
    return {paper_id: PaperText(title, abstract) for paper_id, title, abstract in rows}
