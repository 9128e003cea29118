"""When each subscriber is due: their local send hour on the edition's day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from digest.store.models import Delivery, Edition, Frequency, Subscriber, SubscriberState


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


def due_subscribers(
    session: Session,
    day: date,
    now: datetime,
    *,
    local_day_only: bool,
    only_email: str | None = None,
    batch_size: int = 500,
) -> Iterator[Subscriber]:
    """Active subscribers whose send moment for `day` has passed and who lack its delivery.

    With `local_day_only`, only those for whom `day` is today where they live (the planner's
    rule, so nobody gets yesterday's edition after today's).
    """
    already = exists().where(
        Delivery.subscriber_id == Subscriber.id,
        Delivery.edition_id == Edition.id,
        Edition.date == day,
    )
    query = (
        select(Subscriber)
        .where(Subscriber.state == SubscriberState.ACTIVE, ~already)
        .order_by(Subscriber.id)
        .execution_options(yield_per=batch_size)
    )
    if only_email is not None:
        query = query.where(Subscriber.email == only_email)
    for subscriber in session.scalars(query):
        if local_day_only and local_today(subscriber.timezone, now) != day:
            continue
        if is_due(subscriber, day, now):
            yield subscriber
