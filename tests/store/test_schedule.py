from datetime import UTC, date, datetime

from freezegun import freeze_time
from sqlalchemy.orm import Session

from digest.preferences import Frequency
from digest.store.db import Database
from digest.store.models import Subscriber
from digest.store.schedule import due_page, is_due, local_today, send_moment
from tests.factories import make_subscriber


def test_send_moment_follows_daylight_saving() -> None:
    # New York is UTC-4 in summer and UTC-5 in winter: 7:00 local moves in UTC.
    assert send_moment("America/New_York", 7, date(2026, 7, 1)) == datetime(
        2026, 7, 1, 11, tzinfo=UTC
    )
    assert send_moment("America/New_York", 7, date(2026, 12, 1)) == datetime(
        2026, 12, 1, 12, tzinfo=UTC
    )
    # 2:30 does not exist on the spring-forward day; it still maps to one moment that day.
    moment = send_moment("America/New_York", 2, date(2026, 3, 8))
    assert moment.date() == date(2026, 3, 8)


def test_local_today_differs_across_the_date_line() -> None:
    now = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    assert local_today("Pacific/Auckland", now) == date(2026, 11, 26)
    assert local_today("America/Los_Angeles", now) == date(2026, 11, 25)


def test_weekly_subscriber_is_due_only_on_their_weekday() -> None:
    weekly = Subscriber(timezone="UTC", send_hour=7, frequency=Frequency.WEEKLY, send_weekday=2)
    wednesday, thursday = date(2026, 11, 25), date(2026, 11, 26)
    assert is_due(weekly, wednesday, datetime(2026, 11, 25, 8, tzinfo=UTC))
    assert not is_due(weekly, thursday, datetime(2026, 11, 26, 8, tzinfo=UTC))


@freeze_time("2026-11-25 11:30:00")
def test_due_subscribers_waits_for_the_local_send_hour(db: Database) -> None:
    now = datetime.now(UTC)
    with db.session() as session:
        berlin = make_subscriber(session, timezone="Europe/Berlin", send_hour=7)  # 12:30 local
        waiting = make_subscriber(session, timezone="UTC", send_hour=12)  # 11:30 local
        auckland = make_subscriber(session, timezone="Pacific/Auckland", send_hour=0)  # 00:30, 26th
        due = _due_ids(session, date(2026, 11, 25), now, local_day_only=True)
        assert due == [berlin.id]
        assert waiting.id not in due and auckland.id not in due
        tomorrow = _due_ids(session, date(2026, 11, 26), now, local_day_only=True)
        assert tomorrow == [auckland.id]
        # An operator sending a past edition reaches everyone whose moment for it passed.
        past = _due_ids(session, date(2026, 11, 24), now, local_day_only=False)
        assert set(past) == {berlin.id, waiting.id, auckland.id}


def _due_ids(session: Session, day: date, now: datetime, *, local_day_only: bool) -> list[int]:
    """The ids the planner queues for `day`, read a page at a time as it reads them."""
    ids: list[int] = []
    after: int | None = 0
    while after is not None:
        page, after = due_page(
            session, day, now, after_id=after, page_size=2, local_day_only=local_day_only
        )
        ids += [subscriber_id for subscriber_id, _ in page]
    return ids
