"""Loading what ranking needs from the store: an edition's pool and subscribers' profiles."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.papers import PaperText
from digest.rank.features import Follows
from digest.rank.personalize import SubscriberProfile
from digest.rank.pool import CandidatePool, PoolPaper
from digest.store.editions import paper_text
from digest.store.models import (
    Delivery,
    DeliveryPaper,
    Edition,
    EditionItem,
    Feedback,
    Paper,
    Subscriber,
)


def load_pool(session: Session, edition: Edition) -> CandidatePool | None:
    """The edition's frozen candidates as a pool, in trend order; None if it has none."""
    rows = session.execute(
        select(EditionItem, Paper)
        .join(Paper, Paper.id == EditionItem.paper_id)
        .where(EditionItem.edition_id == edition.id)
        .order_by(EditionItem.rank)
    )
    papers = [
        PoolPaper(
            paper_id=paper.id,
            text=paper_text(paper),
            trend=item.score,
            upvote_gain=item.upvote_gain,
            star_gain=item.star_gain,
        )
        for item, paper in rows
    ]
    return CandidatePool(papers) if papers else None


def follows_of(subscriber: Subscriber) -> Follows:
    return Follows(
        topics=tuple(subscriber.topics),
        categories=tuple(subscriber.categories),
        authors=tuple(subscriber.authors),
    )


def load_profiles(
    session: Session, subscribers: Sequence[Subscriber], pool: CandidatePool
) -> list[SubscriberProfile]:
    """Profiles in the order given: follows, ratings, and which pool papers they received."""
    ids = [subscriber.id for subscriber in subscribers]
    liked: dict[int, list[PaperText]] = defaultdict(list)
    disliked: dict[int, list[PaperText]] = defaultdict(list)
    for feedback, paper in session.execute(
        select(Feedback, Paper)
        .join(Paper, Paper.id == Feedback.paper_id)
        .where(Feedback.subscriber_id.in_(ids))
        .order_by(Feedback.id)
    ):
        (liked if feedback.rating > 0 else disliked)[feedback.subscriber_id].append(
            paper_text(paper)
        )
    received: dict[int, set[int]] = defaultdict(set)
    pool_ids = list(pool.index)
    for subscriber_id, paper_id in session.execute(
        select(Delivery.subscriber_id, DeliveryPaper.paper_id)
        .join(DeliveryPaper, DeliveryPaper.delivery_id == Delivery.id)
        .where(Delivery.subscriber_id.in_(ids), DeliveryPaper.paper_id.in_(pool_ids))
    ):
        received[subscriber_id].add(paper_id)
    return [
        SubscriberProfile(
            subscriber_id=subscriber.id,
            follows=follows_of(subscriber),
            size=subscriber.edition_size,
            liked=tuple(liked[subscriber.id]),
            disliked=tuple(disliked[subscriber.id]),
            received=frozenset(received[subscriber.id]),
        )
        for subscriber in subscribers
    ]
