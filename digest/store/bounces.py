"""Suppressing an address a bounce or complaint names, and dropping its unsent copies."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from digest.store.models import (
    Delivery,
    DeliveryStatus,
    OutboxEmail,
    OutboxStatus,
    Subscriber,
    SubscriberState,
)

# A complaint outranks a bounce: both suppress, but a complaint is the person's own word.
RANK = {SubscriberState.COMPLAINED: 2, SubscriberState.BOUNCED: 1}


# A report may name a copy in either state: a second report of one bounce finds it bounced.
REPORTABLE = (DeliveryStatus.SENT, DeliveryStatus.BOUNCED)
REPORTABLE_NOTICES = (OutboxStatus.SENT, OutboxStatus.BOUNCED)


class Suppression(enum.Enum):
    NEW = "new"  # the address is suppressed from now on
    ALREADY = "already"  # it was suppressed before (a repeated report)


def find_reported_subscriber(session: Session, email: str) -> Subscriber | None:
    """The subscriber with `email`, locked for the change a report may bring."""
    return session.scalar(select(Subscriber).where(Subscriber.email == email).with_for_update())


def was_sent(session: Session, subscriber_id: int, message_id: str) -> bool:
    """Whether a digest with this Message-ID went out to this subscriber."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    Delivery.subscriber_id == subscriber_id,
                    Delivery.message_id == message_id,
                    Delivery.status.in_(REPORTABLE),
                )
            )
        )
    )


def notice_was_sent(session: Session, subscriber_id: int, message_id: str) -> bool:
    """Whether a notice (confirmation, ...) with this Message-ID went out to this subscriber:
    its signature alone says only which id it was made for."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    OutboxEmail.subscriber_id == subscriber_id,
                    OutboxEmail.message_id == message_id,
                    OutboxEmail.status.in_(REPORTABLE_NOTICES),
                )
            )
        )
    )


def bounced_while_sending(session: Session, subscriber_id: int, detail: str, now: datetime) -> None:
    """The SMTP server refused the subscriber's address for good while we sent them any
    email: suppressed as bounced, as a bounce report would."""
    subscriber = session.get(Subscriber, subscriber_id, with_for_update=True)
    if subscriber is not None:
        suppress_subscriber(
            session,
            subscriber,
            SubscriberState.BOUNCED,
            detail=detail,
            bounced_message_id=None,
            now=now,
        )


def suppress_subscriber(
    session: Session,
    subscriber: Subscriber,
    state: SubscriberState,
    *,
    detail: str,
    bounced_message_id: str | None,
    now: datetime,
) -> Suppression:
    """Move the subscriber to `state` (bounced or complained), skip their queued copies, and
    mark the sent copy (digest or notice) that came back as bounced."""
    changed = RANK.get(subscriber.state, 0) < RANK[state]
    if changed:
        subscriber.state = state
        if state is SubscriberState.COMPLAINED and subscriber.unsubscribed_at is None:
            subscriber.unsubscribed_at = now
    reason = f"address {state.value}: {detail}"
    session.execute(
        update(Delivery)
        .where(
            Delivery.subscriber_id == subscriber.id,
            Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.DEFERRED]),
        )
        .values(status=DeliveryStatus.SKIPPED, error=reason, finished_at=now, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    if state is SubscriberState.BOUNCED and bounced_message_id:
        # The copy that came back was accepted by the next server, then refused.
        session.execute(
            update(Delivery)
            .where(
                Delivery.subscriber_id == subscriber.id,
                Delivery.message_id == bounced_message_id,
                Delivery.status == DeliveryStatus.SENT,
            )
            .values(status=DeliveryStatus.BOUNCED, error=f"bounced after sending: {detail}")
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.subscriber_id == subscriber.id,
                OutboxEmail.message_id == bounced_message_id,
                OutboxEmail.status == OutboxStatus.SENT,
            )
            .values(status=OutboxStatus.BOUNCED, error=f"bounced after sending: {detail}")
            .execution_options(synchronize_session=False)
        )
    return Suppression.NEW if changed else Suppression.ALREADY
