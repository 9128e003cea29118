"""The outbox of subscriber emails through a real SMTP server: queued with the request,
sent once, retried after temporary refusals, given up with the reason kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from digest.pipeline.emails import CONFIRMATION_EMAIL
from digest.pipeline.notices import send_outbox
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import OutboxEmail, OutboxStatus, Subscriber, SubscriberState
from digest.store.outbox import OutboxClaim, claim_outbox
from digest.store.subscribers import request_subscription
from digest.store.suppression import suppress
from tests.conftest import ScriptedSmtp, free_port
from tests.factories import make_subscriber

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


class Moody(ScriptedSmtp):
    """An SMTP server that refuses every recipient with 451 while `refusing` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.refusing = True
        self.refused = 0

    def refusal(self, address: str) -> str | None:
        if not self.refusing:
            return None
        self.refused += 1
        return "451 4.3.0 try again later"


@pytest.fixture
def moody(settings: Settings, database_url: str) -> Iterator[tuple[Moody, Settings]]:
    handler = Moody()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            handler,
            settings.model_copy(
                update={"mail_url": f"smtp://127.0.0.1:{port}", "database_url": database_url}
            ),
        )
    finally:
        controller.stop()


def _request(db: Database, email: str, now: datetime = NOW, **fields: str) -> None:
    with db.session() as session:
        request_subscription(session, email, now=now, **fields)


def _rows(db: Database) -> list[OutboxEmail]:
    with db.session() as session:
        rows = list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))
        session.expunge_all()
    return rows


def test_a_refused_confirmation_is_retried_and_arrives_once_with_no_second_queued(
    db: Database, moody: tuple[Moody, Settings]
) -> None:
    server, settings = moody
    _request(db, "patient@example.org")

    first = send_outbox(db, settings, NOW)

    assert (first.sent, first.deferred) == ([], 1) and server.refused == 1
    [row] = _rows(db)
    assert row.status is OutboxStatus.DEFERRED and "451" in (row.error or "")
    with db.session() as session:
        pending = session.scalars(select(Subscriber)).one()
        # Only an email the server accepted counts for the 10-minute rule: no lockout.
        assert pending.confirmation_sent_at is None

    soon = NOW + timedelta(seconds=10)  # the first retry waits 30-90 s (60 s with jitter)
    _request(db, "patient@example.org", soon)  # asked again meanwhile
    assert len(_rows(db)) == 1
    assert send_outbox(db, settings, soon).handled == 0  # not due yet

    server.refusing = False
    later = NOW + timedelta(hours=2)
    retried = send_outbox(db, settings, later)

    assert retried.sent == [(CONFIRMATION_EMAIL, pending.id)]
    assert server.accepted == ["patient@example.org"]
    assert send_outbox(db, settings, later + timedelta(hours=1)).handled == 0
    assert server.accepted == ["patient@example.org"]  # once
    with db.session() as session:
        assert session.get_one(Subscriber, pending.id).confirmation_sent_at == later


def test_an_email_refused_until_the_give_up_time_fails_with_its_reason(
    db: Database, moody: tuple[Moody, Settings]
) -> None:
    _, settings = moody
    _request(db, "never@example.org")
    send_outbox(db, settings, NOW)

    report = send_outbox(db, settings, NOW + timedelta(hours=settings.give_up_hours + 1))

    assert report.failed == 1
    [row] = _rows(db)
    assert row.status is OutboxStatus.FAILED
    assert row.error is not None and "gave up after 2 attempts" in row.error and "451" in row.error
    _request(db, "never@example.org", NOW + timedelta(hours=30))  # a new request may queue again
    assert len(_rows(db)) == 2


def test_a_claim_is_held_by_its_lease_and_taken_over_when_the_sender_died(
    db: Database, settings: Settings
) -> None:
    _request(db, "lease@example.org")
    [claim] = claim_outbox(db, NOW, 10, lease_seconds=600)

    assert claim_outbox(db, NOW + timedelta(minutes=5), 10, lease_seconds=600) == []
    [again] = claim_outbox(db, NOW + timedelta(minutes=11), 10, lease_seconds=600)
    assert again.row_id == claim.row_id and again.attempts == 2


@pytest.mark.parametrize(
    "state", ["new", "pending", "active", "unsubscribed", "bounced", "complained", "deleted"]
)
def test_a_request_writes_one_outbox_row_and_nothing_else_whatever_the_address(
    db: Database, state: str
) -> None:
    email = f"{state}@example.org"
    with db.session() as session:
        if state == "deleted":
            suppress(session, email)
        elif state != "new":
            row = make_subscriber(session, email, state=SubscriberState(state))
            row.topics, row.timezone = ["mine"], "Europe/Oslo"
    before = _subscribers(db)

    _request(db, email, topics="theirs", timezone="Asia/Tokyo")

    assert _subscribers(db) == before  # not read into, not changed, not created
    [queued] = _rows(db)
    assert (queued.kind, queued.email, queued.status) == ("subscribe", email, OutboxStatus.PENDING)
    assert queued.request == {"topics": ["theirs"], "timezone": "Asia/Tokyo"}


def test_suppressed_and_deleted_addresses_get_nothing_from_the_sender(
    db: Database, settings: Settings, database_url: str
) -> None:
    local = settings.model_copy(update={"database_url": database_url})
    with db.session() as session:
        make_subscriber(session, "bounced@example.org", state=SubscriberState.BOUNCED)
        suppress(session, "deleted@example.org")
    for email in ("bounced@example.org", "deleted@example.org"):
        _request(db, email)

    report = send_outbox(db, local, NOW)

    assert (report.sent, report.skipped) == ([], 2)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 1
    assert [row.email for row in _rows(db)] == [None, None]  # no copy of a deleted address


def _subscribers(db: Database) -> list[tuple[str, str, list[str], str]]:
    with db.session() as session:
        return [
            (s.email, s.state.value, list(s.topics), s.timezone)
            for s in session.scalars(select(Subscriber).order_by(Subscriber.id))
        ]


class TakenOverMidBatch(ScriptedSmtp):
    """Accepts every message; while the first one arrives, another sender claims the
    outbox as it would once the first sender's lease had run out."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.taken: list[OutboxClaim] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        if not self.taken:
            self.taken = claim_outbox(self.db, NOW + timedelta(minutes=11), 10, 600)
        return await super().handle_DATA(server, session, envelope)


def test_a_row_another_sender_took_over_is_left_to_it(db: Database, settings: Settings) -> None:
    _request(db, "first@example.org")
    _request(db, "second@example.org")
    handler = TakenOverMidBatch(db)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = settings.model_copy(update={"mail_url": f"smtp://127.0.0.1:{port}"})
        report = send_outbox(db, smtp, NOW)
    finally:
        controller.stop()

    assert handler.accepted == ["first@example.org"]  # the second is the other sender's
    assert [kind for kind, _ in report.sent] == [CONFIRMATION_EMAIL]
    first, second = _rows(db)
    assert first.status is OutboxStatus.SENT  # what the server accepted is recorded
    assert second.status is OutboxStatus.CLAIMED
    assert second.claim_token == handler.taken[0].token  # untouched: its sender's to send
