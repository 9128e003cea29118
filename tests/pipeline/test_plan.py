"""Scheduling by local time, driven minute by minute with freezegun: exactly one edition per
local day through daylight saving, planner outages and timezone changes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import select, update

from digest.pipeline import plan
from digest.pipeline.plan import send_due_now
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Delivery, DeliveryStatus, Pool, Subscriber
from digest.store.types import utcnow
from tests.conftest import SmtpSink
from tests.factories import make_paper, make_subscriber


@pytest.fixture
def planner_settings(settings: Settings, sqlite_db: Database) -> Settings:
    return settings.model_copy(update={"database_url": sqlite_db.url})


def _papers_for(db: Database, first: date, days: int) -> None:
    with db.session() as session:
        for offset in range(days):
            for rank in range(3):
                make_paper(session, listed_on=first + timedelta(days=offset), upvotes=50 - rank)


def _run_planner(
    db: Database, settings: Settings, start: datetime, end: datetime, every: int
) -> None:
    # One frozen clock moved along: entering freeze_time scans every loaded module, which
    # costs about half a second each time once torch and scikit-learn are imported.
    moment = start
    with freeze_time(start) as clock:
        while moment <= end:
            clock.move_to(moment)
            send_due_now(db, settings, utcnow())
            moment += timedelta(minutes=every)


def _sent(db: Database) -> list[tuple[date, datetime]]:
    with db.session() as session:
        rows = session.execute(
            select(Pool.date, Delivery.finished_at)
            .join(Pool, Pool.id == Delivery.pool_id)
            .where(Delivery.status == DeliveryStatus.SENT)
            .order_by(Delivery.finished_at)
        ).all()
    return [(day, finished) for day, finished in rows if finished is not None]


def test_daylight_saving_change_still_gives_one_edition_each_morning(
    sqlite_db: Database, planner_settings: Settings, smtp_sink: SmtpSink
) -> None:
    new_york = ZoneInfo("America/New_York")
    _papers_for(sqlite_db, date(2026, 10, 30), 5)
    with sqlite_db.session() as session:
        make_subscriber(session, timezone="America/New_York", send_hour=7, edition_size=1)
    # Saturday 31 Oct to Monday 2 Nov 2026; clocks go back on Sunday 1 Nov at 02:00.
    _run_planner(
        sqlite_db,
        planner_settings,
        datetime(2026, 10, 31, 4, tzinfo=UTC),
        datetime(2026, 11, 3, 4, tzinfo=UTC),
        every=15,
    )
    sent = _sent(sqlite_db)
    assert [day for day, _ in sent] == [date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)]
    for day, finished in sent:
        local = finished.astimezone(new_york)
        assert local.date() == day and local.hour == 7 and local.minute < 15
    assert len(smtp_sink.received) == 3


def test_a_planner_down_for_hours_sends_once_when_it_returns(
    sqlite_db: Database, planner_settings: Settings, smtp_sink: SmtpSink
) -> None:
    _papers_for(sqlite_db, date(2026, 11, 24), 2)
    with sqlite_db.session() as session:
        make_subscriber(session, "berlin@example.org", timezone="Europe/Berlin", send_hour=7)
        make_subscriber(session, "utc@example.org", timezone="UTC", send_hour=8)
    _run_planner(
        sqlite_db, planner_settings,
        datetime(2026, 11, 25, 5, tzinfo=UTC), datetime(2026, 11, 25, 5, 30, tzinfo=UTC), every=15,
    )  # fmt: skip
    assert smtp_sink.received == []  # 06:00-06:30 in Berlin: not yet
    # The planner is down from 05:30 to 13:00 UTC, then runs every 15 minutes again.
    _run_planner(
        sqlite_db, planner_settings,
        datetime(2026, 11, 25, 13, tzinfo=UTC), datetime(2026, 11, 25, 18, tzinfo=UTC), every=15,
    )  # fmt: skip
    recipients = Counter(str(m["To"]) for m in smtp_sink.received)
    assert recipients == {"berlin@example.org": 1, "utc@example.org": 1}


def test_changing_timezone_mid_day_never_gives_a_second_or_older_edition(
    sqlite_db: Database, planner_settings: Settings, smtp_sink: SmtpSink
) -> None:
    _papers_for(sqlite_db, date(2026, 11, 23), 5)
    with sqlite_db.session() as session:
        traveller = make_subscriber(session, timezone="Asia/Tokyo", send_hour=7, edition_size=1)
    # 22:00 UTC on the 25th is 07:00 on the 26th in Tokyo: the 26 Nov edition goes out.
    _run_planner(
        sqlite_db, planner_settings,
        datetime(2026, 11, 25, 21, tzinfo=UTC), datetime(2026, 11, 25, 23, tzinfo=UTC), every=15,
    )  # fmt: skip
    assert [day for day, _ in _sent(sqlite_db)] == [date(2026, 11, 26)]
    # They fly to Los Angeles, where it is still the 25th, and change their timezone.
    with sqlite_db.session() as session:
        session.get_one(Subscriber, traveller.id).timezone = "America/Los_Angeles"
    _run_planner(
        sqlite_db, planner_settings,
        datetime(2026, 11, 25, 23, 15, tzinfo=UTC), datetime(2026, 11, 27, 16, tzinfo=UTC),
        every=30,
    )  # fmt: skip
    # Not the 25th (older than what they have), not the 26th again; the 27th at 07:00 LA.
    assert [day for day, _ in _sent(sqlite_db)] == [date(2026, 11, 26), date(2026, 11, 27)]
    assert len(smtp_sink.received) == 2


def test_sends_are_asked_for_a_page_at_a_time_while_the_planner_goes_on(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large edition starts going out with its first page, not once all are queued;
    rows left from an earlier run are asked for too."""
    monkeypatch.setattr(plan, "PLAN_PAGE_SIZE", 10)
    settings = settings.model_copy(update={"send_batch_size": 4})
    now = datetime(2026, 11, 25, 9, tzinfo=UTC)
    with db.session() as session:
        make_paper(session, listed_on=now.date(), upvotes=10)
        for i in range(25):
            make_subscriber(session, f"reader{i}@example.org", send_hour=7)
    queued_when_asked: list[int] = []

    def enqueue(pool_id: int) -> None:
        with db.session() as session:
            queued_when_asked.append(len(session.scalars(select(Delivery.id)).all()))

    asked = plan.plan_and_fan_out(db, settings, now, enqueue)

    # Pages of 10, 10 and 5 rows: 3 + 3 + 2 sends, the first asked after the first page.
    assert asked == len(queued_when_asked) == 8
    assert queued_when_asked[0] == 10 and queued_when_asked[-1] == 25
    with db.session() as session:
        session.execute(
            update(Delivery).values(status=DeliveryStatus.DEFERRED, next_attempt_at=now)
        )
    assert plan.plan_and_fan_out(db, settings, now, enqueue) == 7  # 25 left, in fours
