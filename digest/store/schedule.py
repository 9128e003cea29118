"""When each subscriber is due: their local send hour on the edition's day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from digest.preferences import Frequency
from digest.store.models import Delivery, Pool, Subscriber, SubscriberState


def send_moment(timezone: str, send_hour: int, day: date) -> datetime:
    """The UTC moment of `send_hour` o'clock local time on `day` (zoneinfo handles DST)."""
    local = datetime.combine(day, time(send_hour), tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)


def local_today(timezone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def wants_edition(subscriber: Subscriber, day: date) -> bool:
    """Daily subscribers take every edition; weekly ones only their weekday's."""
    return subscriber.frequency == Frequency.DAILY or day.weekday() == subscriber.send_weekday


def is_due(subscriber: Subscriber, day: date, now: datetime) -> bool:
    return (
        wants_edition(subscriber, day)
        and send_moment(subscriber.timezone, subscriber.send_hour, day) <= now
    )


def active_timezones(session: Session) -> list[str]:
    query = select(Subscriber.timezone).where(Subscriber.state == SubscriberState.ACTIVE).distinct()
    return sorted(session.scalars(query))


def days_in_progress(session: Session, now: datetime) -> list[date]:
    """The local dates it is somewhere a subscriber lives, oldest first."""
    return sorted({local_today(zone, now) for zone in active_timezones(session)})


def due_page(
    session: Session,
    day: date,
    now: datetime,
    *,
    after_id: int,
    page_size: int,
    local_day_only: bool,
    only_email: str | None = None,
) -> tuple[list[tuple[int, datetime]], int | None]:
    """One page of (subscriber id, send moment) due for `day`, and the id to continue after.

    Due: active, the send moment for `day` has passed, and no edition of `day` or later
    was delivered to them (so a timezone change never sends an edition twice or an older
    one after a newer). With `local_day_only`, only those for whom `day` is today where
    they live. Pages by id, so memory does not grow with the number of subscribers.
    """
    same_or_later = exists().where(
        Delivery.subscriber_id == Subscriber.id,
        Delivery.pool_id == Pool.id,
        Pool.date >= day,
    )
    query = (
        select(Subscriber)
        .where(Subscriber.state == SubscriberState.ACTIVE, Subscriber.id > after_id, ~same_or_later)
        .order_by(Subscriber.id)
        .limit(page_size)
    )
    if only_email is not None:
        query = query.where(Subscriber.email == only_email)
    subscribers = list(session.scalars(query))
    due = [
        (s.id, send_moment(s.timezone, s.send_hour, day))
        for s in subscribers
        if (not local_day_only or local_today(s.timezone, now) == day) and is_due(s, day, now)
    ]
    next_after = subscribers[-1].id if len(subscribers) == page_size else None
    return due, next_after
