"""Subscriber lifecycle: subscribe (double opt-in), confirm, unsubscribe, operator tools."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.addresses import normalise_email
from digest.errors import DigestError, InvalidToken
from digest.preferences import (
    Preferences,
    check_edition_size,
    check_send_hour,
    check_timezone,
    check_weekday,
    parse_authors,
    parse_categories,
    parse_topics,
)
from digest.store.models import Delivery, Feedback, Paper, Subscriber, SubscriberState
from digest.store.suppression import is_suppressed, suppress
from digest.store.types import utcnow
from digest.tokens import TokenSubject

CONFIRMATION_RESEND_INTERVAL = timedelta(minutes=10)
SUPPRESSED_STATES = (SubscriberState.BOUNCED, SubscriberState.COMPLAINED)


class SuppressedAddress(DigestError):
    """The address was deleted at its owner's request and must not be mailed."""


# The subscriber emails the lifecycle asks for, by kind (templates/email/<kind>/).
CONFIRMATION_EMAIL = "confirm"
ALREADY_SUBSCRIBED_EMAIL = "already_subscribed"


@dataclass(frozen=True)
class SubscribeOutcome:
    subscriber_id: int
    email_to_send: str | None  # the kind of email the change asks for, if any


def find_by_email(session: Session, email: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.email == email))


def request_subscription(
    session: Session,
    raw_email: str,
    *,
    topics: str | Sequence[str] | None = None,
    timezone: str | None = None,
    default_timezone: str = "UTC",
    default_send_hour: int = 7,
    now: datetime | None = None,
) -> SubscribeOutcome:
    """Record a subscription request and say whether a confirmation email is due.

    Raises InvalidEmail or InvalidPreference for bad input, SuppressedAddress for a deleted
    one; never reveals to the caller's user whether the address was known (the web answers
    the same page either way).
    """
    now = now or utcnow()
    email = normalise_email(raw_email)
    clean_topics = parse_topics(topics)
    if is_suppressed(session, email):
        raise SuppressedAddress("this address asked to be deleted")
    zone = check_timezone(timezone) if timezone and timezone.strip() else default_timezone
    subscriber = find_by_email(session, email)
    if subscriber is None:
        subscriber = Subscriber(
            email=email,
            state=SubscriberState.PENDING,
            topics=clean_topics,
            timezone=zone,
            send_hour=default_send_hour,
            created_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(subscriber)
        except IntegrityError:  # the same address subscribed concurrently
            subscriber = find_by_email(session, email)
            assert subscriber is not None
            return SubscribeOutcome(subscriber.id, None)
        subscriber.confirmation_sent_at = now
        return SubscribeOutcome(subscriber.id, CONFIRMATION_EMAIL)

    if subscriber.state == SubscriberState.UNSUBSCRIBED:
        subscriber.state = SubscriberState.PENDING
        subscriber.topics = clean_topics or subscriber.topics
        subscriber.timezone = zone if timezone else subscriber.timezone
    # For an active address the same column rate-limits the "already subscribed" notice.
    wanted = {
        SubscriberState.PENDING: CONFIRMATION_EMAIL,
        SubscriberState.ACTIVE: ALREADY_SUBSCRIBED_EMAIL,
    }.get(subscriber.state)
    if wanted is not None:
        last = subscriber.confirmation_sent_at
        if last is None or now - last >= CONFIRMATION_RESEND_INTERVAL:
            subscriber.confirmation_sent_at = now
            return SubscribeOutcome(subscriber.id, wanted)
    return SubscribeOutcome(subscriber.id, None)


def subscriber_for_token(
    session: Session, subject: TokenSubject, *, lock: bool = False
) -> Subscriber:
    """The subscriber a verified token names, or InvalidToken if it is gone.

    `lock` takes the row for update, for a change that must not race another.
    """
    subscriber = session.get(Subscriber, subject.subscriber_id, with_for_update=lock)
    if subscriber is None or not subject.matches(subscriber.email):
        raise InvalidToken("this link is for a subscription that no longer exists")
    return subscriber


def confirm_subscription(
    session: Session, subject: TokenSubject, now: datetime | None = None
) -> Subscriber:
    """Activate a pending subscription; confirming twice is harmless."""
    subscriber = subscriber_for_token(session, subject, lock=True)
    if subscriber.state == SubscriberState.PENDING:
        subscriber.state = SubscriberState.ACTIVE
        subscriber.confirmed_at = now or utcnow()
    return subscriber


def unsubscribe(session: Session, subject: TokenSubject, now: datetime | None = None) -> Subscriber:
    """Stop all mail to this subscriber; idempotent, and suppressed states stay suppressed."""
    subscriber = subscriber_for_token(session, subject, lock=True)
    if subscriber.state in (SubscriberState.PENDING, SubscriberState.ACTIVE):
        subscriber.state = SubscriberState.UNSUBSCRIBED
        subscriber.unsubscribed_at = now or utcnow()
    return subscriber


def add_subscriber(
    session: Session,
    raw_email: str,
    *,
    confirmed: bool,
    topics: str | Sequence[str] | None = None,
    timezone: str = "UTC",
    send_hour: int = 7,
    now: datetime | None = None,
) -> Subscriber:
    """Operator tool: add (or re-activate) an address, optionally skipping double opt-in."""
    now = now or utcnow()
    email = normalise_email(raw_email)
    subscriber = find_by_email(session, email)
    if subscriber is None:
        subscriber = Subscriber(email=email, created_at=now, updated_at=now)
        session.add(subscriber)
    elif subscriber.state in SUPPRESSED_STATES:
        raise DigestError(f"{email} is {subscriber.state.value} and stays suppressed")
    subscriber.topics = parse_topics(topics)
    subscriber.timezone = check_timezone(timezone)
    subscriber.send_hour = check_send_hour(send_hour)
    if confirmed:
        subscriber.state = SubscriberState.ACTIVE
        subscriber.confirmed_at = now
    elif subscriber.state != SubscriberState.ACTIVE:
        subscriber.state = SubscriberState.PENDING
    session.flush()
    return subscriber


def remove_subscriber(session: Session, raw_email: str) -> bool:
    """Operator tool: delete an address and its delivery history. True if it existed."""
    subscriber = find_by_email(session, normalise_email(raw_email))
    if subscriber is None:
        return False
    session.delete(subscriber)
    return True


def list_subscribers(session: Session, state: SubscriberState | None = None) -> list[Subscriber]:
    query = select(Subscriber).order_by(Subscriber.id)
    if state is not None:
        query = query.where(Subscriber.state == state)
    return list(session.scalars(query))


def count_by_state(session: Session) -> dict[str, int]:
    rows = session.execute(select(Subscriber.state, func.count()).group_by(Subscriber.state))
    return {state.value: count for state, count in rows}


# --- the subscriber's own pages: resend, resubscribe, preferences, data rights -------------


def resend_confirmation(
    session: Session, subject: TokenSubject, now: datetime | None = None
) -> SubscribeOutcome:
    """A fresh confirmation for the owner of an expired link, if still pending (10-minute rule)."""
    now = now or utcnow()
    subscriber = subscriber_for_token(session, subject, lock=True)
    if subscriber.state != SubscriberState.PENDING:
        return SubscribeOutcome(subscriber.id, None)
    last = subscriber.confirmation_sent_at
    if last is not None and now - last < CONFIRMATION_RESEND_INTERVAL:
        return SubscribeOutcome(subscriber.id, None)
    subscriber.confirmation_sent_at = now
    return SubscribeOutcome(subscriber.id, CONFIRMATION_EMAIL)


def resubscribe(session: Session, subject: TokenSubject, now: datetime | None = None) -> Subscriber:
    """Undo an unsubscribe from the link of an email they received; suppressed stay suppressed."""
    subscriber = subscriber_for_token(session, subject, lock=True)
    if subscriber.state == SubscriberState.UNSUBSCRIBED:
        subscriber.state = SubscriberState.ACTIVE
        subscriber.confirmed_at = subscriber.confirmed_at or now or utcnow()
        subscriber.unsubscribed_at = None
    return subscriber


def update_preferences(session: Session, subject: TokenSubject, prefs: Preferences) -> Subscriber:
    """Store already-parsed preferences after checking the ranges once more."""
    subscriber = subscriber_for_token(session, subject, lock=True)
    subscriber.topics = parse_topics(prefs.topics)
    subscriber.categories = parse_categories(prefs.categories)
    subscriber.authors = parse_authors(prefs.authors)
    subscriber.frequency = prefs.frequency
    subscriber.send_weekday = check_weekday(prefs.send_weekday)
    subscriber.timezone = check_timezone(prefs.timezone)
    subscriber.send_hour = check_send_hour(prefs.send_hour)
    subscriber.edition_size = check_edition_size(prefs.edition_size)
    return subscriber


def export_subscriber(session: Session, subject: TokenSubject) -> dict[str, object]:
    """Everything stored about the subscriber, as plain JSON-ready values."""
    subscriber = subscriber_for_token(session, subject)
    deliveries = session.scalars(
        select(Delivery).where(Delivery.subscriber_id == subscriber.id).order_by(Delivery.id)
    )
    votes = session.execute(
        select(Paper.arxiv_id, Feedback.rating, Feedback.updated_at)
        .join(Paper, Paper.id == Feedback.paper_id)
        .where(Feedback.subscriber_id == subscriber.id)
        .order_by(Feedback.id)
    )
    return {
        "email": subscriber.email,
        "state": subscriber.state.value,
        "preferences": preferences_of(subscriber).as_dict(),
        "created_at": _iso(subscriber.created_at),
        "updated_at": _iso(subscriber.updated_at),
        "confirmation_sent_at": _iso(subscriber.confirmation_sent_at),
        "confirmed_at": _iso(subscriber.confirmed_at),
        "unsubscribed_at": _iso(subscriber.unsubscribed_at),
        "deliveries": [
            {
                "edition": delivery.pool.date.isoformat(),
                "status": delivery.status.value,
                "at": _iso(delivery.finished_at or delivery.claimed_at),
            }
            for delivery in deliveries
        ],
        "feedback": [
            {"paper": arxiv_id, "vote": "more" if rating > 0 else "less", "at": _iso(at)}
            for arxiv_id, rating, at in votes
        ],
    }


def delete_subscriber_data(session: Session, subject: TokenSubject) -> None:
    """Delete the subscriber with their history, keeping only a hashed suppression entry."""
    subscriber = subscriber_for_token(session, subject, lock=True)
    suppress(session, subscriber.email)
    session.delete(subscriber)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def preferences_of(subscriber: Subscriber) -> Preferences:
    """What the subscriber follows and when they get it, as the preferences page edits it."""
    return Preferences(
        topics=list(subscriber.topics),
        categories=list(subscriber.categories),
        authors=list(subscriber.authors),
        frequency=subscriber.frequency,
        send_weekday=subscriber.send_weekday,
        timezone=subscriber.timezone,
        send_hour=subscriber.send_hour,
        edition_size=subscriber.edition_size,
    )
