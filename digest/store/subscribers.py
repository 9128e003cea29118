"""Subscriber lifecycle: subscribe (double opt-in), confirm, unsubscribe, operator tools.

An address on the suppression list (deleted at its owner's request) never becomes a
subscriber again: every path that creates or activates one asks first (`activate` is the
one way to become active), and the sender asks again (`mailable_subscribers`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

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
    parse_muted,
    parse_muted_authors,
    parse_topics,
)
from digest.store.models import (
    Delivery,
    Feedback,
    Paper,
    SeedPaper,
    Subscriber,
    SubscriberState,
)
from digest.store.outbox import (
    SUBSCRIBE_REQUEST,
    latest_request,
    queue_email,
    sent_request,
)
from digest.store.suppression import (
    is_suppressed,
    refuse_suppressed,
    suppress,
    suppressed_among,
)
from digest.store.types import utcnow
from digest.tokens import TokenSubject

SUPPRESSED_STATES = (SubscriberState.BOUNCED, SubscriberState.COMPLAINED)
# In a resent confirmation's outbox row: the subscribe request its link names.
ANSWERS_REQUEST = "answers_request"


def find_by_email(session: Session, email: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.email == email))


def request_subscription(
    session: Session,
    raw_email: str,
    *,
    topics: str | Sequence[str] | None = None,
    timezone: str | None = None,
    now: datetime | None = None,
) -> None:
    """Queue the form's request; raises InvalidEmail or InvalidPreference for bad input.

    The same single write whatever the address's state (new, pending, active, left,
    bounced, deleted): nothing about it is read or changed here, so neither the answer nor
    its timing tells the caller anything. The outbox sender decides later (`resolve_request`).
    """
    email = normalise_email(raw_email)
    request = {
        "topics": parse_topics(topics),
        "timezone": check_timezone(timezone) if timezone and timezone.strip() else None,
    }
    queue_email(session, SUBSCRIBE_REQUEST, now or utcnow(), email=email, request=request)


def subscriber_for_request(
    session: Session,
    email: str,
    request: Mapping[str, Any],
    *,
    default_timezone: str,
    default_send_hour: int,
    now: datetime,
) -> Subscriber | None:
    """The subscriber a subscribe request is about, locked; None for a suppressed address.

    A new address becomes a pending subscriber; nothing else is changed until it is
    confirmed (the requested topics and timezone travel with the confirmation). What the
    request becomes (digest.pipeline.kinds) depends on the state returned."""
    if is_suppressed(session, email):
        return None
    subscriber = session.scalar(
        select(Subscriber).where(Subscriber.email == email).with_for_update()
    )
    if subscriber is None:
        subscriber = Subscriber(
            email=email,
            state=SubscriberState.PENDING,
            topics=list(request.get("topics") or []),
            timezone=request.get("timezone") or default_timezone,
            send_hour=default_send_hour,
            created_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(subscriber)
        except IntegrityError:  # added by another sender a moment ago
            subscriber = find_by_email(session, email)
            assert subscriber is not None
    return subscriber


def locked_recipient(session: Session, subscriber_id: int) -> Subscriber | None:
    """The subscriber a queued email is for, locked while its sender decides; None if gone."""
    return session.get(Subscriber, subscriber_id, with_for_update=True)


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
    """Activate a pending (or unsubscribed, asking to return) subscription with the topics
    and timezone of the request the link was sent for (a link that names none, from an
    operator's add or an import, keeps what is stored); confirming twice is harmless.

    Never the latest request's: anyone can submit an address, and the owner's link must
    not apply what a stranger asked for later."""
    subscriber = subscriber_for_token(session, subject, lock=True)
    if may_confirm(session, subscriber, subject.request_id):
        named = subject.request_id
        request = None if named is None else sent_request(session, subscriber.id, named)
        if request is not None:
            subscriber.topics = list(request.values.get("topics") or [])
            if request.values.get("timezone"):
                subscriber.timezone = str(request.values["timezone"])
        activate(session, subscriber, now or utcnow())
    return subscriber


def activate(session: Session, subscriber: Subscriber, confirmed_at: datetime) -> bool:
    """Make the subscriber active, opted in at `confirmed_at`: the one way any path does
    it. False, and nothing changed, for an address on the suppression list."""
    if is_suppressed(session, subscriber.email):
        return False
    subscriber.confirmed_at = confirmed_at
    subscriber.state = SubscriberState.ACTIVE
    subscriber.unsubscribed_at = None
    return True


def may_confirm(session: Session, subscriber: Subscriber, request_id: int | None = None) -> bool:
    """Whether a confirmation link (naming `request_id`, if it does) activates this
    subscriber: pending, or unsubscribed and asked to come back after leaving (a link
    from before they left does not)."""
    if subscriber.state is SubscriberState.PENDING:
        return True
    if subscriber.state is not SubscriberState.UNSUBSCRIBED:
        return False
    request = (
        latest_request(session, subscriber.id)
        if request_id is None
        else sent_request(session, subscriber.id, request_id)
    )
    left = subscriber.unsubscribed_at
    return (
        request is not None
        and request.sent_at is not None
        and (left is None or request.sent_at >= left)
    )


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
    """Operator tool: add (or re-activate) an address, optionally skipping double opt-in.

    SuppressedAddress for an address deleted at its owner's request, DigestError for a
    bounced or complained one."""
    now = now or utcnow()
    email = normalise_email(raw_email)
    refuse_suppressed(session, email)
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
        activate(session, subscriber, now)
    elif subscriber.state != SubscriberState.ACTIVE:
        subscriber.state = SubscriberState.PENDING
    session.flush()
    return subscriber


def remove_subscriber(session: Session, raw_email: str, *, suppress_address: bool = True) -> bool:
    """Operator tool: delete an address and its history; True if it was a subscriber.

    With `suppress_address` (a person's request to be forgotten) the address goes on the
    suppression list, as the web's delete does, even if no subscriber had it; without it
    (the operator's own typo) it may be added again.
    """
    email = normalise_email(raw_email)
    if suppress_address:
        suppress(session, email)
    subscriber = find_by_email(session, email)
    if subscriber is None:
        return False
    session.delete(subscriber)
    return True


def mailable_subscribers(session: Session, subscriber_ids: Sequence[int]) -> list[Subscriber]:
    """Those of the subscribers that may be mailed now: active, and not on the
    suppression list (a row that got past every other check still gets nothing)."""
    subscribers = list(
        session.scalars(
            select(Subscriber).where(
                Subscriber.id.in_(subscriber_ids), Subscriber.state == SubscriberState.ACTIVE
            )
        )
    )
    blocked = suppressed_among(session, [subscriber.email for subscriber in subscribers])
    return [subscriber for subscriber in subscribers if subscriber.email not in blocked]


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
    session: Session, subject: TokenSubject, kind: str, now: datetime | None = None
) -> bool:
    """Queue a fresh confirmation (an email of `kind`) for the owner of an expired link
    while still pending.

    True if one is queued (the sender still applies the kind's resend rule).
    """
    subscriber = subscriber_for_token(session, subject, lock=True)
    if subscriber.state != SubscriberState.PENDING:
        return False
    # The fresh link names the same request as the expired one.
    named = {} if subject.request_id is None else {ANSWERS_REQUEST: subject.request_id}
    queue_email(session, kind, now or utcnow(), subscriber_id=subscriber.id, request=named)
    return True


def resubscribe(session: Session, subject: TokenSubject, now: datetime | None = None) -> Subscriber:
    """Undo an unsubscribe from the link of an email they received; suppressed stay suppressed."""
    subscriber = subscriber_for_token(session, subject, lock=True)
    if subscriber.state == SubscriberState.UNSUBSCRIBED:
        activate(session, subscriber, subscriber.confirmed_at or now or utcnow())
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
    subscriber.muted = parse_muted(prefs.muted)
    subscriber.muted_authors = parse_muted_authors(prefs.muted_authors)
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
        "consent": {"statement": subscriber.consent, "at": _iso(subscriber.consent_at)},
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
        "learn_from_ratings": subscriber.learn_from_ratings,
        "seed_papers": [
            {
                "title": seed.title,
                "arxiv_id": seed.arxiv_id,
                "doi": seed.doi,
                "authors": list(seed.authors),
                "abstract": seed.abstract,
                "added_at": _iso(seed.created_at),
            }
            for seed in session.scalars(
                select(SeedPaper)
                .where(SeedPaper.subscriber_id == subscriber.id)
                .order_by(SeedPaper.id)
            )
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
        muted=list(subscriber.muted),
        muted_authors=list(subscriber.muted_authors),
    )
