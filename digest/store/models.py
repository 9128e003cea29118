"""The tables: subscribers, papers and their trend signals, the days' pools and deliveries."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from digest.preferences import Frequency
from digest.store.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON}


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings (no native ENUM type) so adding a state is a no-op migration.
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )


class SubscriberState(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # due; the planner queued it, no sender has it yet
    CLAIMED = "claimed"  # a sender owns it until lease_until; the message may be in flight
    DEFERRED = "deferred"  # a temporary failure; retried from next_attempt_at
    SENT = "sent"
    FAILED = "failed"  # given up on, or refused for good
    BOUNCED = "bounced"  # the server refused the recipient for good (5xx)
    SKIPPED = "skipped"  # nothing to send (e.g. no new paper qualified)


class Subscriber(Base):
    __tablename__ = "subscribers"
    # An id is in every signed link, return path and Message-ID: on SQLite, AUTOINCREMENT
    # keeps a deleted subscriber's id from being given to the next one (migration 0013).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    state: Mapped[SubscriberState] = mapped_column(
        _enum(SubscriberState), default=SubscriberState.PENDING, index=True
    )
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    send_hour: Mapped[int] = mapped_column(Integer, default=7)
    frequency: Mapped[Frequency] = mapped_column(_enum(Frequency), default=Frequency.DAILY)
    send_weekday: Mapped[int] = mapped_column(Integer, default=0)  # Monday; weekly only
    topics: Mapped[list[str]] = mapped_column(default=list)  # free text, e.g. "diffusion"
    categories: Mapped[list[str]] = mapped_column(default=list)  # arXiv, e.g. "cs.CL"
    authors: Mapped[list[str]] = mapped_column(default=list)  # author names to follow
    edition_size: Mapped[int] = mapped_column(Integer, default=10)
    # Words and phrases, and author names, whose papers this subscriber never gets.
    # Server defaults too: the bulk import inserts with SQL of its own (digest.store.bulk).
    muted: Mapped[list[str]] = mapped_column(default=list, server_default=text("'[]'"))
    muted_authors: Mapped[list[str]] = mapped_column(default=list, server_default=text("'[]'"))
    # Off: their "more / less like this" votes are kept but no longer shape the ranking.
    learn_from_ratings: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    confirmation_sent_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # How and when an imported subscriber opted in, as the operator stated it (--consent).
    consent: Mapped[str | None] = mapped_column(Text)
    consent_at: Mapped[datetime | None]

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", passive_deletes=True
    )


class Paper(Base):
    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(primary_key=True)
    arxiv_id: Mapped[str] = mapped_column(String(32), unique=True)  # without version suffix
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(default=list)
    categories: Mapped[list[str]] = mapped_column(default=list)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    summary: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(500))
    pdf_url: Mapped[str | None] = mapped_column(String(500))
    code_url: Mapped[str | None] = mapped_column(String(500))
    project_url: Mapped[str | None] = mapped_column(String(500))
    thumbnail_url: Mapped[str | None] = mapped_column(String(500))
    organisation: Mapped[str | None] = mapped_column(String(500))
    doi: Mapped[str | None] = mapped_column(String(200), index=True)  # arXiv's journal DOI
    published_at: Mapped[datetime | None]
    listed_on: Mapped[date | None] = mapped_column(Date, index=True)  # day it was featured
    announced_on: Mapped[date | None] = mapped_column(Date, index=True)  # arXiv's first listing
    version: Mapped[int | None] = mapped_column(Integer)  # highest arXiv version seen
    source: Mapped[str] = mapped_column(String(40))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Sentence embedding of title and abstract (float32 little-endian), made at ingest by
    # `embedding_model`; another model, or new text, means it is made again.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    embedding_model: Mapped[str | None] = mapped_column(String(200))

    signals: Mapped[list[SignalSnapshot]] = relationship(
        back_populates="paper",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="SignalSnapshot.observed_at",
    )


class SignalSnapshot(Base):
    """Trend signals of one paper as seen by one fetch; the history gives velocity."""

    __tablename__ = "signal_snapshots"
    __table_args__ = (Index("ix_signal_snapshots_paper_observed", "paper_id", "observed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    observed_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(40))
    upvotes: Mapped[int] = mapped_column(Integer, default=0)
    comments: Mapped[int] = mapped_column(Integer, default=0)
    stars: Mapped[int | None] = mapped_column(Integer)

    paper: Mapped[Paper] = relationship(back_populates="signals")


class Pool(Base):
    """The pool of one day: its candidate papers ranked by trend, frozen when first built.

    Each subscriber's edition of the day is picked from it."""

    __tablename__ = "pools"

    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[date] = mapped_column(Date, unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[PoolItem]] = relationship(
        back_populates="pool",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="PoolItem.rank",
    )


class PoolItem(Base):
    __tablename__ = "pool_items"
    __table_args__ = (
        UniqueConstraint("pool_id", "rank", name="uq_pool_items_pool_rank"),
        UniqueConstraint("pool_id", "paper_id", name="uq_pool_items_pool_paper"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id", ondelete="CASCADE"))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float]
    upvote_gain: Mapped[int] = mapped_column(Integer, default=0)  # over the trend window
    star_gain: Mapped[int] = mapped_column(Integer, default=0)

    pool: Mapped[Pool] = relationship(back_populates="items")
    paper: Mapped[Paper] = relationship()


class Feedback(Base):
    """A subscriber's "more like this" (+1) or "less like this" (-1) on one paper."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "paper_id", name="uq_feedback_subscriber_paper"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SeedPaper(Base):
    """A paper a subscriber gave as one they like: it counts as "more like this".

    Its text is kept on the row (from their file, arXiv's answer or a stored paper), so it
    needs no paper of the store. `key` (`arxiv:ID`, `doi:DOI` or `title:…`) keeps a
    subscriber from having one paper twice.
    """

    __tablename__ = "seed_papers"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "key", name="uq_seed_papers_subscriber_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(300))
    arxiv_id: Mapped[str | None] = mapped_column(String(32))
    doi: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(default=list)
    categories: Mapped[list[str]] = mapped_column(default=list)
    origin: Mapped[str] = mapped_column(String(20))  # file, arxiv (looked up), stored
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArxivLookup(Base):
    """arXiv's answer for one id, kept so that the same id is never asked for twice.

    Kept apart from `papers`: a paper someone looked up must not enter a day's pool."""

    __tablename__ = "arxiv_lookups"

    id: Mapped[int] = mapped_column(primary_key=True)
    arxiv_id: Mapped[str] = mapped_column(String(32), unique=True)  # without version suffix
    doi: Mapped[str | None] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(default=list)
    categories: Mapped[list[str]] = mapped_column(default=list)
    looked_up_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One subscriber's copy of one edition; the unique pair is the exactly-once guard."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "pool_id", name="uq_deliveries_subscriber_pool"),
        Index("ix_deliveries_pool_status", "pool_id", "status"),
        # Claiming walks the unfinished rows of a pool in id order; without this it walks
        # past every row already sent, slower as the morning goes on.
        Index(
            "ix_deliveries_unfinished",
            "pool_id",
            "id",
            postgresql_where=text("status IN ('pending', 'deferred', 'claimed')"),
            sqlite_where=text("status IN ('pending', 'deferred', 'claimed')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id", ondelete="CASCADE"))
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus), index=True)
    message_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]  # the subscriber's send moment (queue lag is now - due_at)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_attempt_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]  # a claim older than this was lost with its worker
    # A fresh random value at every claim: a sender writes outcomes and starts sends only on
    # rows that still carry its own token (its claim was not taken over after its lease).
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # Set right before the message is handed to the SMTP server, cleared with its outcome: a
    # row whose lease ran out with this set may have reached the server (see `uncertain`).
    in_flight_since: Mapped[datetime | None]
    uncertain: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    subscriber: Mapped[Subscriber] = relationship(back_populates="deliveries")
    pool: Mapped[Pool] = relationship()
    papers: Mapped[list[DeliveryPaper]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="DeliveryPaper.rank"
    )


class DeliveryPaper(Base):
    """The papers one subscriber's copy of an edition carried, so none is sent again."""

    __tablename__ = "delivery_papers"

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    # A paper id, without a foreign key: papers are never deleted, and checking one locks
    # the paper's row for every mark written (migration 0010).
    paper_id: Mapped[int] = mapped_column(primary_key=True, index=True)
    rank: Mapped[int] = mapped_column(Integer)
    why: Mapped[str] = mapped_column(Text, default="")


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for a sender
    CLAIMED = "claimed"  # a sender holds it until lease_until
    DEFERRED = "deferred"  # a temporary failure; tried again at next_attempt_at
    SENT = "sent"  # the SMTP server accepted it
    SKIPPED = "skipped"  # nothing to send after all (see `error` for why)
    FAILED = "failed"  # given up, with the reason in `error`
    BOUNCED = "bounced"  # refused for good (5xx, or a report tied to it): address suppressed


UNSENT_OUTBOX = (OutboxStatus.PENDING, OutboxStatus.CLAIMED, OutboxStatus.DEFERRED)


class OutboxEmail(Base):
    """A subscriber email asked for by a state change, written in the same transaction.

    `kind` is an email kind, or `subscribe` for a request from the form: the sender then
    decides what, if anything, the address receives. `email` and `request` (the topics and
    timezone asked for) travel with it; they apply only when the link mailed for this row
    (its id is in the token) is confirmed. `queue_key` is set
    while the row is unsent, so one address or subscriber has one queued row per kind.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str | None] = mapped_column(String(320))
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    queue_key: Mapped[str | None] = mapped_column(String(400), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_attempt_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    # As on deliveries: a fresh random value at every claim, so a sender records outcomes
    # and sends only on rows whose claim is still its own.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    finished_at: Mapped[datetime | None]
    # The Message-ID of the email the server accepted: a bounce or complaint about a notice
    # is applied only when it names one sent to that subscriber.
    message_id: Mapped[str | None] = mapped_column(String(255))


class Suppression(Base):
    """An address deleted at its owner's request, kept only as a hash so it is never mailed."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FetchRun(Base):
    """One ingestion run of one source over a window of days, and what it did."""

    __tablename__ = "fetch_runs"
    __table_args__ = (Index("ix_fetch_runs_source_started", "source", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]  # None while running, or when the run died
    seen: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)  # pages answered 304
    duration_seconds: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(Text)


class HttpValidator(Base):
    """The ETag / Last-Modified a source URL last answered with, for conditional requests."""

    __tablename__ = "http_validators"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(1000), unique=True)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    items: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
