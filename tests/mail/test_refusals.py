"""What a refusal means, decided by where in the SMTP transaction it came and what its
enhanced status says: only a refusal of the recipient's address bounces (and suppresses) it.
A relay that refuses our sender address or a message's content must never bounce the list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from digest.errors import MessageRefused, PermanentRejection, RelayRefused, TemporaryFailure
from digest.mail.smtp import Stage, refusal
from digest.pipeline.plan import send_due_now
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Delivery, DeliveryStatus, Subscriber, SubscriberState
from tests.conftest import free_port
from tests.factories import make_paper, make_subscriber

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("code", "text", "stage", "meaning"),
    [
        (550, "5.1.1 no such user", Stage.RCPT, PermanentRejection),
        (550, "no such user here", Stage.RCPT, PermanentRejection),  # no enhanced status
        (550, "5.2.1 mailbox disabled", Stage.RCPT, PermanentRejection),
        (552, "5.2.2 mailbox full", Stage.RCPT, MessageRefused),
        (550, "5.7.1 relaying denied", Stage.RCPT, MessageRefused),
        (554, "5.7.1 client host blocked", Stage.RCPT, MessageRefused),
        (550, "5.1.1 recipient unknown", Stage.DATA, PermanentRejection),
        (550, "5.7.1 message looks like spam", Stage.DATA, MessageRefused),
        (554, "transaction failed", Stage.DATA, MessageRefused),
        (550, "5.7.1 sender address rejected", Stage.MAIL, RelayRefused),
        (553, "sender not allowed", Stage.MAIL, RelayRefused),
        (530, "5.7.0 authentication required", Stage.SESSION, RelayRefused),
        (451, "4.3.0 try again", Stage.RCPT, TemporaryFailure),
        (421, "closing", Stage.MAIL, TemporaryFailure),
    ],
)
def test_a_refusal_means_what_its_stage_and_status_say(
    code: int, text: str, stage: Stage, meaning: type[Exception]
) -> None:
    error = refusal(code, text.encode(), stage)
    assert type(error) is meaning
    assert str(code) in str(error)


class Refusing:
    """An SMTP server that refuses at the stage and with the reply a test chooses."""

    def __init__(self, stage: str, reply: str) -> None:
        self.stage = stage
        self.reply = reply
        self.accepted: list[str] = []

    async def handle_MAIL(
        self, server: object, session: object, envelope: object, address: str, options: object
    ) -> str:
        if self.stage == "mail":
            return self.reply
        envelope.mail_from = address  # type: ignore[attr-defined]
        return "250 OK"

    async def handle_RCPT(
        self, server: object, session: object, envelope: object, address: str, options: object
    ) -> str:
        if self.stage == "rcpt":
            return self.reply
        envelope.rcpt_tos.append(address)  # type: ignore[attr-defined]
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        if self.stage == "data":
            return self.reply
        self.accepted.extend(envelope.rcpt_tos)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def relay(request: pytest.FixtureRequest) -> Iterator[tuple[Refusing, str]]:
    stage, reply = request.param
    handler = Refusing(stage, reply)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, f"smtp://127.0.0.1:{port}"
    controller.stop()


def _send_to_three(db: Database, settings: Settings, mail_url: str) -> dict[str, int]:
    local = settings.model_copy(update={"mail_url": mail_url, "database_url": db.url})
    with db.session() as session:
        for upvotes in (5, 50, 20):
            make_paper(session, listed_on=DAY, upvotes=upvotes)
        for name in ("ada", "bo", "cy"):
            make_subscriber(session, f"{name}@example.org")
    counts = send_due_now(db, local, NOW, edition=DAY)
    return {"sent": counts.sent, "bounced": counts.bounced, "deferred": counts.deferred,
            "failed": counts.failed}  # fmt: skip


def _states(db: Database) -> tuple[set[SubscriberState], set[DeliveryStatus]]:
    with db.session() as session:
        people = set(session.scalars(select(Subscriber.state)))
        rows = set(session.scalars(select(Delivery.status)))
    return people, rows


@pytest.mark.parametrize("relay", [("mail", "550 5.7.1 sender address rejected")], indirect=True)
def test_a_relay_that_refuses_our_sender_bounces_nobody_and_the_edition_waits(
    db: Database, settings: Settings, relay: tuple[Refusing, str]
) -> None:
    handler, url = relay
    counts = _send_to_three(db, settings, url)
    assert counts == {"sent": 0, "bounced": 0, "deferred": 3, "failed": 0}
    assert _states(db) == ({SubscriberState.ACTIVE}, {DeliveryStatus.DEFERRED})
    assert handler.accepted == []


@pytest.mark.parametrize(
    "relay",
    [("data", "550 5.7.1 message refused as spam"), ("rcpt", "554 5.7.1 client host blocked")],
    indirect=True,
)
def test_a_refused_message_fails_without_blaming_the_address(
    db: Database, settings: Settings, relay: tuple[Refusing, str]
) -> None:
    _, url = relay
    counts = _send_to_three(db, settings, url)
    assert counts == {"sent": 0, "bounced": 0, "deferred": 0, "failed": 3}
    assert _states(db) == ({SubscriberState.ACTIVE}, {DeliveryStatus.FAILED})


@pytest.mark.parametrize(
    "relay",
    [("rcpt", "550 5.1.1 no such user"), ("rcpt", "550 unknown user"),
     ("data", "550 5.1.1 recipient unknown")],
    indirect=True,
)  # fmt: skip
def test_a_refused_address_bounces_and_is_never_mailed_again(
    db: Database, settings: Settings, relay: tuple[Refusing, str]
) -> None:
    _, url = relay
    counts = _send_to_three(db, settings, url)
    assert counts == {"sent": 0, "bounced": 3, "deferred": 0, "failed": 0}
    assert _states(db) == ({SubscriberState.BOUNCED}, {DeliveryStatus.BOUNCED})
