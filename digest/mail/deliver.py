"""Deliver an edition: claim each (subscriber, edition) row, render, send, record."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from digest.mail.smtp import PermanentRejection, SmtpConfig, SmtpSender, TemporaryFailure
from digest.rank.entries import EditionEntry
from digest.render.digest import render_digest
from digest.settings import Settings
from digest.store.db import Database
from digest.store.editions import build_edition, edition_entries
from digest.store.models import (
    Delivery,
    DeliveryStatus,
    Subscriber,
    SubscriberState,
)
from digest.store.types import utcnow

log = logging.getLogger(__name__)


@dataclass
class SendCounts:
    """What one run did; `deferred` ones are retried by a later run."""

    due: int = 0
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    bounced: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: SendCounts) -> None:
        for name in ("due", "sent", "skipped", "deferred", "failed", "bounced"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class EditionContent:
    day: date
    edition_id: int
    entries: list[EditionEntry]

    @property
    def is_sample(self) -> bool:
        return bool(self.entries) and all(e.source == "sample" for e in self.entries)


def load_edition(
    db: Database, settings: Settings, day: date, now: datetime
) -> EditionContent | None:
    """The frozen edition of `day`, built now if it does not exist; None if no papers."""
    with db.session() as session:
        edition = build_edition(
            session, day, size=settings.edition_size, window_days=settings.candidate_days, now=now
        )
        if edition is None:
            return None
        return EditionContent(day, edition.id, edition_entries(session, edition))


def claim_delivery(db: Database, subscriber_id: int, edition_id: int) -> Subscriber | None:
    """Insert the (subscriber, edition) row; None if it exists or the subscriber left.

    The unique constraint makes this the exactly-once gate: of two senders racing for the
    same pair, one insert fails. The subscriber row is locked so an unsubscribe that
    commits first is seen here.
    """
    try:
        with db.session() as session:
            subscriber = session.get(Subscriber, subscriber_id, with_for_update=True)
            if subscriber is None or subscriber.state != SubscriberState.ACTIVE:
                return None
            session.add(
                Delivery(
                    subscriber_id=subscriber_id,
                    edition_id=edition_id,
                    status=DeliveryStatus.CLAIMED,
                    claimed_at=utcnow(),
                )
            )
            session.flush()
            session.expunge(subscriber)
            return subscriber
    except IntegrityError:
        return None


def _finish(
    db: Database,
    subscriber_id: int,
    edition_id: int,
    status: DeliveryStatus,
    *,
    message_id: str | None = None,
    error: str | None = None,
    bounce: bool = False,
) -> None:
    with db.session() as session:
        delivery = session.scalars(
            select(Delivery).where(
                Delivery.subscriber_id == subscriber_id, Delivery.edition_id == edition_id
            )
        ).one()
        delivery.status = status
        delivery.message_id = message_id
        delivery.error = error
        delivery.finished_at = utcnow()
        if bounce:
            subscriber = session.get(Subscriber, subscriber_id)
            if subscriber is not None:
                subscriber.state = SubscriberState.BOUNCED


def _release(db: Database, subscriber_id: int, edition_id: int) -> None:
    """Drop a claim whose message never left, so a later run sends it."""
    with db.session() as session:
        session.execute(
            delete(Delivery).where(
                Delivery.subscriber_id == subscriber_id,
                Delivery.edition_id == edition_id,
                Delivery.status == DeliveryStatus.CLAIMED,
            )
        )


def deliver_edition(
    db: Database,
    settings: Settings,
    day: date,
    subscriber_ids: Sequence[int],
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> SendCounts:
    """Send `day`'s edition to these subscribers over one reused SMTP connection."""
    now = now or utcnow()
    counts = SendCounts(due=len(subscriber_ids))
    content = load_edition(db, settings, day, now)
    if content is None:
        log.warning("no papers for the %s edition; %d subscribers wait", day, len(subscriber_ids))
        counts.deferred = len(subscriber_ids)
        counts.errors.append(f"no papers to send for {day}")
        return counts
    if dry_run:
        counts.skipped = len(subscriber_ids)
        return counts
    with SmtpSender(SmtpConfig.from_url(settings.smtp_url)) as sender:
        for subscriber_id in subscriber_ids:
            _deliver_one(db, settings, sender, content, subscriber_id, counts)
            if on_progress is not None:
                on_progress(1)
    return counts


def _deliver_one(
    db: Database,
    settings: Settings,
    sender: SmtpSender,
    content: EditionContent,
    subscriber_id: int,
    counts: SendCounts,
) -> None:
    subscriber = claim_delivery(db, subscriber_id, content.edition_id)
    if subscriber is None:
        counts.skipped += 1
        return
    try:
        message = render_digest(
            settings,
            subscriber_id=subscriber.id,
            email=subscriber.email,
            edition_date=content.day,
            entries=content.entries,
            sample=content.is_sample,
        )
    except ValueError as exc:  # the email policy refuses a value it cannot encode safely
        _finish(db, subscriber.id, content.edition_id, DeliveryStatus.FAILED, error=str(exc))
        counts.failed += 1
        log.error("subscriber %d: digest could not be rendered: %s", subscriber.id, exc)
        return
    try:
        sender.send(message)
    except PermanentRejection as exc:
        _finish(
            db,
            subscriber.id,
            content.edition_id,
            DeliveryStatus.FAILED,
            error=str(exc),
            bounce=True,
        )
        counts.bounced += 1
        log.warning("subscriber %d rejected permanently: %s", subscriber.id, exc)
    except TemporaryFailure as exc:
        _release(db, subscriber.id, content.edition_id)
        counts.deferred += 1
        counts.errors.append(str(exc))
        log.warning("subscriber %d deferred: %s", subscriber.id, exc)
    else:
        _finish(
            db,
            subscriber.id,
            content.edition_id,
            DeliveryStatus.SENT,
            message_id=message["Message-ID"],
        )
        counts.sent += 1


def chunked(ids: Iterable[int], size: int) -> Iterable[list[int]]:
    batch: list[int] = []
    for item in ids:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
