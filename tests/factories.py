"""Factories for the store's rows, so tests say only what matters to them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from digest.papers import EditionEntry
from digest.preferences import Frequency
from digest.settings import RankingSettings, Settings
from digest.store.deliveries import Claim, DeliveryRecorder
from digest.store.journal import SentMark
from digest.store.models import (
    Delivery,
    DeliveryPaper,
    DeliveryStatus,
    Paper,
    Pool,
    PoolItem,
    SignalSnapshot,
    Subscriber,
    SubscriberState,
)

# Every setting at its one default (the Settings field), whatever this process's environment
# says: for tests that build a settings part by hand, e.g. replace(DEFAULT_RANKING.blend, …).
DEFAULT_RANKING: RankingSettings = Settings.model_construct().ranking

_ids = itertools.count(1)
# Distinct words for default titles and abstracts: papers made here must not look like
# near-duplicates of each other to the ranking's duplicate suppression.
_WORDS = [
    "alder",
    "birch",
    "cedar",
    "dune",
    "ember",
    "fjord",
    "grove",
    "heath",
    "inlet",
    "juniper",
    "knoll",
    "loam",
    "marsh",
    "nook",
    "orchard",
    "prairie",
    "quarry",
    "ridge",
    "spruce",
    "tundra",
    "upland",
    "willow",
]


def _words(number: int) -> str:
    return " ".join(_WORDS[(number * step) % len(_WORDS)] for step in (1, 3, 7))


def make_subscriber(
    session: Session,
    email: str | None = None,
    *,
    state: SubscriberState = SubscriberState.ACTIVE,
    timezone: str = "UTC",
    send_hour: int = 7,
    frequency: Frequency = Frequency.DAILY,
    send_weekday: int = 0,
    topics: list[str] | None = None,
    edition_size: int = 10,
) -> Subscriber:
    subscriber = Subscriber(
        email=email or f"reader{next(_ids)}@example.org",
        state=state,
        timezone=timezone,
        send_hour=send_hour,
        frequency=frequency,
        send_weekday=send_weekday,
        topics=topics or [],
        edition_size=edition_size,
    )
    session.add(subscriber)
    session.flush()
    return subscriber


def make_paper(
    session: Session,
    *,
    listed_on: date,
    upvotes: int = 0,
    comments: int = 0,
    stars: int | None = None,
    title: str | None = None,
    abstract: str | None = None,
    observed_at: datetime | None = None,
    source: str = "hf",
) -> Paper:
    number = next(_ids)
    arxiv_id = f"2611.{number:05d}"
    paper = Paper(
        arxiv_id=arxiv_id,
        title=title or f"{_words(number).capitalize()} (paper {number})",
        abstract=abstract or f"We study {_words(number + 1)} in paper {number}.",
        authors=["Ada Lovelace"],
        url=f"https://arxiv.org/abs/{arxiv_id}",
        listed_on=listed_on,
        source=source,
    )
    session.add(paper)
    session.flush()
    session.add(
        SignalSnapshot(
            paper_id=paper.id,
            source=source,
            upvotes=upvotes,
            comments=comments,
            stars=stars,
            observed_at=observed_at or datetime(2000, 1, 1, tzinfo=UTC),
        )
    )
    session.flush()
    return paper


def sent_mark(
    delivery_id: int, message_id: str, entries: Sequence[EditionEntry], at: datetime
) -> SentMark:
    """The mark `DeliveryRecorder.settle_and_begin` writes for a message the server accepted."""
    papers: list[tuple[int, int, str | None]] = [(e.paper_id, e.rank, e.why) for e in entries]
    return SentMark(delivery_id, message_id, at.isoformat(), papers)


def begin_sending(recorder: DeliveryRecorder, claim: Claim, at: datetime) -> bool:
    """Note one claimed row in flight, as the sender does right before handing it over."""
    return claim.row_id in recorder.settle_and_begin([], [claim], at)


def record_sent(
    recorder: DeliveryRecorder,
    delivery_id: int,
    message_id: str,
    entries: Sequence[EditionEntry],
    at: datetime,
) -> None:
    """Write the sent mark of one message the server accepted, as the sender does."""
    recorder.settle_and_begin([sent_mark(delivery_id, message_id, entries, at)], [], at)


def make_pool(session: Session, day: date, papers: Sequence[Paper]) -> Pool:
    """`day`'s pool holding `papers` in this trend order (rank 1 first)."""
    pool = Pool(date=day, created_at=datetime.combine(day, datetime.min.time(), UTC))
    session.add(pool)
    session.flush()
    for rank, paper in enumerate(papers, start=1):
        session.add(PoolItem(pool_id=pool.id, paper_id=paper.id, rank=rank, score=100.0 - rank))
    session.flush()
    return pool


def make_sent_digest(
    session: Session, subscriber: Subscriber, pool: Pool, papers: Sequence[Paper], at: datetime
) -> Delivery:
    """A digest of `pool` that carried `papers` to the subscriber, accepted at `at`."""
    delivery = Delivery(
        subscriber_id=subscriber.id,
        pool_id=pool.id,
        status=DeliveryStatus.SENT,
        claimed_at=at,
        finished_at=at,
    )
    session.add(delivery)
    session.flush()
    for rank, paper in enumerate(papers, start=1):
        session.add(DeliveryPaper(delivery_id=delivery.id, paper_id=paper.id, rank=rank))
    session.flush()
    return delivery
