"""A permanent refusal means the same for every email: a confirmation the SMTP server
refuses with a 5xx bounces and suppresses the address, as a digest's refusal does, so a
later signup sends nothing to it. Through a real SMTP server (aiosmtpd), on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from digest.errors import (
    DigestError,
    PermanentRejection,
    SendError,
    TemporaryFailure,
    Unreachable,
    Unsendable,
)
from digest.mail.outcomes import SendFailure, classify_send_failure
from digest.pipeline.emails import CONFIRMATION_EMAIL
from digest.pipeline.notices import send_outbox
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import OutboxEmail, OutboxStatus, Subscriber, SubscriberState
from digest.store.subscribers import add_subscriber, request_subscription
from tests.conftest import ScriptedSmtp, free_port

DEAD = "gone@example.com"
ALIVE = "alive@example.com"
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


class RefusesOne(ScriptedSmtp):
    """Answers 550 to one recipient and notes every recipient it was offered."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused
        self.offered: list[str] = []

    def refusal(self, address: str) -> str | None:
        self.offered.append(address)
        return "550 5.1.1 no such mailbox" if address == self.refused else None


@pytest.fixture
def server() -> Iterator[tuple[RefusesOne, str]]:
    handler = RefusesOne(DEAD)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, f"smtp://127.0.0.1:{port}"
    controller.stop()


def state_of(db: Database, email: str) -> SubscriberState:
    with db.session() as session:
        return session.scalars(select(Subscriber.state).where(Subscriber.email == email)).one()


def test_a_confirmation_refused_for_good_suppresses_the_address(
    db: Database, settings: Settings, server: tuple[RefusesOne, str]
) -> None:
    handler, url = server
    current = settings.model_copy(update={"mail_url": url})
    with db.session() as session:
        request_subscription(session, DEAD, now=NOW)
        request_subscription(session, ALIVE, now=NOW)

    first = send_outbox(db, current, NOW)

    assert state_of(db, DEAD) is SubscriberState.BOUNCED
    assert state_of(db, ALIVE) is SubscriberState.PENDING
    assert (first.bounced, first.failed, [kind for kind, _ in first.sent]) == (
        1,
        0,
        [CONFIRMATION_EMAIL],
    )
    with db.session() as session:
        rows = {row.status: row for row in session.scalars(select(OutboxEmail))}
        assert set(rows) == {OutboxStatus.BOUNCED, OutboxStatus.SENT}
        assert "550 5.1.1 no such mailbox" in (rows[OutboxStatus.BOUNCED].error or "")
        # An address that does not exist: the operator cannot activate it by mistake either.
        with pytest.raises(DigestError, match="bounced and stays suppressed"):
            add_subscriber(session, DEAD, confirmed=True)

    # Long past the 10-minute rule, the dead address signs up again: nothing goes to it.
    later = NOW + timedelta(days=2)
    with db.session() as session:
        request_subscription(session, DEAD, now=later)
    again = send_outbox(db, current, later)

    assert (again.sent, again.skipped) == ([], 1)
    assert handler.offered.count(DEAD) == 1
    assert state_of(db, DEAD) is SubscriberState.BOUNCED


@pytest.mark.parametrize(
    ("error", "meaning"),
    [
        (PermanentRejection("550 no such mailbox"), SendFailure.BOUNCED),
        (Unreachable("connection refused"), SendFailure.UNREACHABLE),
        (TemporaryFailure("451 try later"), SendFailure.RETRY),
        (Unsendable("needs SMTPUTF8"), SendFailure.FAILED),
        (SendError("anything else"), SendFailure.FAILED),
        (UnicodeEncodeError("ascii", "é", 0, 1, "no"), SendFailure.FAILED),
    ],
)
def test_one_meaning_of_each_send_failure(error: Exception, meaning: SendFailure) -> None:
    assert classify_send_failure(error) is meaning
