"""Delivering an edition through a real SMTP server: once per subscriber, never to leavers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from digest.pipeline.plan import plan_deliveries, send_due_now
from digest.pipeline.send import send_batch
from digest.settings import Settings
from digest.store.db import Database
from digest.store.deliveries import pools_with_work
from digest.store.models import Delivery, DeliveryStatus, Subscriber, SubscriberState
from tests.conftest import ScriptedSmtp, SmtpSink, free_port
from tests.factories import make_paper, make_subscriber

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
SECONDS_5 = timedelta(seconds=5)
HOURS_2 = timedelta(hours=2)


@pytest.fixture
def store_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url})


def _papers(db: Database) -> None:
    with db.session() as session:
        for upvotes in (5, 50, 20):
            make_paper(session, listed_on=DAY, upvotes=upvotes)


def test_each_due_subscriber_gets_the_edition_exactly_once(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    _papers(db)
    with db.session() as session:
        readers = [make_subscriber(session).email for _ in range(3)]
        make_subscriber(session, state=SubscriberState.PENDING)
        make_subscriber(session, state=SubscriberState.UNSUBSCRIBED)
        make_subscriber(session, state=SubscriberState.BOUNCED)

    first = send_due_now(db, store_settings, NOW, edition=DAY)
    second = send_due_now(db, store_settings, NOW, edition=DAY)

    assert (first.due, first.sent) == (3, 3)
    assert (second.due, second.sent) == (0, 0)
    assert sorted(rcpt for _, rcpts in smtp_sink.envelopes for rcpt in rcpts) == sorted(readers)
    with db.session() as session:
        statuses = session.scalars(select(Delivery.status)).all()
        assert statuses == [DeliveryStatus.SENT] * 3


def test_a_redelivered_batch_sends_nothing_twice(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    _papers(db)
    with db.session() as session:
        for _ in range(2):
            make_subscriber(session)
    plan_deliveries(db, store_settings, NOW, edition=DAY)
    plan_deliveries(db, store_settings, NOW, edition=DAY)  # two planners: no second row
    [(pool_id, queued)] = pools_with_work(db, NOW)
    assert queued == 2
    first = send_batch(db, store_settings, pool_id)
    again = send_batch(db, store_settings, pool_id)  # a task run twice
    assert (first.sent, again.due, again.sent) == (2, 0, 0)
    assert len(smtp_sink.received) == 2


def test_unsubscribing_after_planning_stops_the_send(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    _papers(db)
    with db.session() as session:
        leaver = make_subscriber(session)
    plan_deliveries(db, store_settings, NOW, edition=DAY)
    with db.session() as session:  # the row is queued; the reader clicks unsubscribe
        session.get_one(Subscriber, leaver.id).state = SubscriberState.UNSUBSCRIBED
    [(pool_id, _)] = pools_with_work(db, NOW)
    counts = send_batch(db, store_settings, pool_id)
    assert (counts.sent, counts.skipped) == (0, 1)
    assert smtp_sink.received == []
    with db.session() as session:
        assert session.scalars(select(Delivery.status)).one() == DeliveryStatus.SKIPPED


def test_no_papers_sends_nothing_and_keeps_subscribers_due(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with db.session() as session:
        make_subscriber(session)
    counts = send_due_now(db, store_settings, NOW, edition=DAY)
    assert (counts.due, counts.sent) == (0, 0)
    _papers(db)
    assert send_due_now(db, store_settings, NOW, edition=DAY).sent == 1


class _Rejecting(ScriptedSmtp):
    """An SMTP server that refuses one recipient permanently and one temporarily."""

    def __init__(self) -> None:
        super().__init__()
        self.busy_refusals = 0

    def refusal(self, address: str) -> str | None:
        if address.startswith("gone"):
            return "550 5.1.1 no such user"
        if address.startswith("busy") and self.busy_refusals == 0:
            self.busy_refusals += 1
            return "451 4.3.0 try again later"
        return None


def test_permanent_rejection_bounces_and_temporary_failure_retries(
    sqlite_db: Database, settings: Settings, tmp_path: Path
) -> None:
    handler = _Rejecting()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        local = settings.model_copy(
            update={"mail_url": f"smtp://127.0.0.1:{port}", "database_url": sqlite_db.url}
        )
        _papers(sqlite_db)
        with sqlite_db.session() as session:
            make_subscriber(session, "ok@example.org")
            make_subscriber(session, "gone@example.org")
            make_subscriber(session, "busy@example.org")
        # Retries are timed by the clock the sender reads, not by the run's moment.
        counts = send_due_now(sqlite_db, local, NOW, edition=DAY, clock=lambda: NOW)
        early = send_due_now(sqlite_db, local, NOW, edition=DAY, clock=lambda: NOW + SECONDS_5)
        later = send_due_now(sqlite_db, local, NOW, edition=DAY, clock=lambda: NOW + HOURS_2)
    finally:
        controller.stop()
    assert (counts.sent, counts.bounced, counts.deferred) == (1, 1, 1)
    assert early.sent == 0  # the retry waits for its backoff
    assert later.sent == 1
    assert handler.accepted == ["ok@example.org", "busy@example.org"]
    with sqlite_db.session() as session:
        states = {s.email: s.state for s in session.scalars(select(Subscriber))}
        assert states["gone@example.org"] == SubscriberState.BOUNCED
        assert states["busy@example.org"] == SubscriberState.ACTIVE
        rows = {
            d.subscriber.email: (d.status, d.attempts) for d in session.scalars(select(Delivery))
        }
    assert rows == {
        "ok@example.org": (DeliveryStatus.SENT, 1),
        "gone@example.org": (DeliveryStatus.BOUNCED, 1),
        "busy@example.org": (DeliveryStatus.SENT, 2),
    }


def test_unreachable_smtp_server_defers_everyone(sqlite_db: Database, settings: Settings) -> None:
    local = settings.model_copy(
        update={"mail_url": f"smtp://127.0.0.1:{free_port()}", "database_url": sqlite_db.url}
    )
    _papers(sqlite_db)
    with sqlite_db.session() as session:
        make_subscriber(session)
    counts = send_due_now(sqlite_db, local, NOW, edition=DAY)
    assert (counts.sent, counts.deferred) == (0, 1)
    assert any("cannot reach the SMTP server" in error for error in counts.errors)
