"""A bounce or complaint is applied only when it is tied to mail we sent to that address.

Every test sends a real edition over SMTP first, so the genuine reports carry the Message-ID
and the signed return path the server really got; the forged ones are what anyone who can
mail the bounce address could write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.pipeline.bounces import import_maildir
from digest.pipeline.emails import CONFIRMATION_EMAIL
from digest.pipeline.notices import render_subscriber_email, send_outbox
from digest.render.message import digest_message_id
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import (
    Delivery,
    DeliveryStatus,
    OutboxEmail,
    OutboxStatus,
    Subscriber,
    SubscriberState,
)
from digest.store.outbox import queue_email
from tests.conftest import SmtpSink
from tests.factories import make_subscriber
from tests.mail.reports import (
    DAY,
    NOW,
    RETURN_PATH,
    SentCopy,
    arf,
    bare_dsn,
    filed,
    make_maildir,
    multipart_dsn,
    send_edition,
)

VICTIM = "victim@example.com"
ATTACKER = "mallory@example.net"


@pytest.fixture
def mail_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url, "return_path": RETURN_PATH})


@pytest.fixture
def sent(db: Database, mail_settings: Settings, smtp_sink: SmtpSink) -> dict[str, SentCopy]:
    return send_edition(db, mail_settings, smtp_sink, [VICTIM, ATTACKER])


def subscriber_id(db: Database, email: str) -> int:
    with db.session() as session:
        return session.scalars(select(Subscriber.id).where(Subscriber.email == email)).one()


def state(db: Database, email: str) -> SubscriberState:
    with db.session() as session:
        return session.scalars(select(Subscriber.state).where(Subscriber.email == email)).one()


def delivery_status(db: Database, email: str) -> DeliveryStatus:
    with db.session() as session:
        return session.scalars(
            select(Delivery.status).join(Subscriber).where(Subscriber.email == email)
        ).one()


Forgery = Callable[[Database, Settings, dict[str, SentCopy]], bytes]

FORGERIES: dict[str, Forgery] = {
    "multipart/report without the original": lambda db, s, sent: multipart_dsn(VICTIM, original=""),
    "multipart/report, original without a Message-ID": lambda db, s, sent: multipart_dsn(
        VICTIM, None
    ),
    "multipart/report, a made-up digest Message-ID": lambda db, s, sent: multipart_dsn(
        VICTIM, f"<digest.{DAY}.{subscriber_id(db, VICTIM)}.0123456789abcdef@example.org>"
    ),
    "multipart/report, the attacker's own genuine Message-ID": lambda db, s, sent: multipart_dsn(
        VICTIM, sent[ATTACKER].message_id
    ),
    "multipart/report, a signed Message-ID of an edition never sent": lambda db, s, sent: (
        multipart_dsn(
            VICTIM, digest_message_id(s.email, subscriber_id(db, VICTIM), DAY - timedelta(days=1))
        )
    ),
    "bare message/delivery-status": lambda db, s, sent: bare_dsn(VICTIM),
    "bare DSN to the attacker's own return path": lambda db, s, sent: bare_dsn(
        VICTIM, delivered_to=sent[ATTACKER].mail_from
    ),
    "bare DSN to a forged return path": lambda db, s, sent: bare_dsn(
        VICTIM, delivered_to=f"bounces+s{subscriber_id(db, VICTIM)}.0123456789ab@example.org"
    ),
    "ARF with Original-Rcpt-To": lambda db, s, sent: arf(original_rcpt_to=VICTIM),
    "ARF with Original-Rcpt-To and the attacker's Message-ID": lambda db, s, sent: arf(
        original_rcpt_to=VICTIM, message_id=sent[ATTACKER].message_id
    ),
    "ARF with an attached original To: the victim": lambda db, s, sent: arf(original_to=VICTIM),
    "ARF, attached original with a made-up Message-ID": lambda db, s, sent: arf(
        original_to=VICTIM, message_id="<digest.2026-11-25.1.ffffffffffffffff@example.org>"
    ),
}


@pytest.mark.parametrize("form", sorted(FORGERIES))
def test_a_forged_report_suppresses_nobody(
    form: str,
    db: Database,
    mail_settings: Settings,
    sent: dict[str, SentCopy],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = make_maildir(tmp_path / "bounces", FORGERIES[form](db, mail_settings, sent))

    with caplog.at_level(logging.INFO):
        report = import_maildir(db, mail_settings.email, folder, now=NOW)

    assert (report.messages, report.unmatched, report.bounced, report.complained) == (1, 1, 0, 0)
    assert state(db, VICTIM) is SubscriberState.ACTIVE
    assert delivery_status(db, VICTIM) is DeliveryStatus.SENT
    assert "not tied to mail we sent" in caplog.text and "v***@example.com" in caplog.text
    assert VICTIM not in caplog.text
    assert len(filed(folder)) == 1


Genuine = Callable[[SentCopy], bytes]

GENUINE: dict[str, tuple[Genuine, SubscriberState]] = {
    "multipart/report with the original": (
        lambda copy: multipart_dsn(VICTIM, copy.message_id),
        SubscriberState.BOUNCED,
    ),
    "multipart/report with the original's headers": (
        lambda copy: multipart_dsn(VICTIM, copy.message_id, original="text/rfc822-headers"),
        SubscriberState.BOUNCED,
    ),
    "multipart/report naming the address in capitals": (
        lambda copy: multipart_dsn(VICTIM.upper(), copy.message_id),
        SubscriberState.BOUNCED,
    ),
    "ARF with Original-Rcpt-To and the original's headers": (
        lambda copy: arf(original_rcpt_to=VICTIM, message_id=copy.message_id),
        SubscriberState.COMPLAINED,
    ),
    "ARF with the original's To: only": (
        lambda copy: arf(original_to=VICTIM, message_id=copy.message_id),
        SubscriberState.COMPLAINED,
    ),
}


@pytest.mark.parametrize("form", sorted(GENUINE))
def test_a_report_of_a_sent_digest_suppresses_its_address(
    form: str, db: Database, mail_settings: Settings, sent: dict[str, SentCopy], tmp_path: Path
) -> None:
    build, expected = GENUINE[form]
    folder = make_maildir(tmp_path / "bounces", build(sent[VICTIM]))

    report = import_maildir(db, mail_settings.email, folder, now=NOW)

    assert report.unmatched == 0
    assert (report.bounced, report.complained) == (
        (1, 0) if expected is SubscriberState.BOUNCED else (0, 1)
    )
    assert state(db, VICTIM) is expected
    assert state(db, ATTACKER) is SubscriberState.ACTIVE
    if expected is SubscriberState.BOUNCED:
        # The copy that came back is recorded as bounced.
        assert delivery_status(db, VICTIM) is DeliveryStatus.BOUNCED

    # Read again, the same report changes nothing and is still recognised as ours.
    again = import_maildir(
        db, mail_settings.email, make_maildir(tmp_path / "again", build(sent[VICTIM]))
    )
    assert (again.already, again.unmatched) == (1, 0)


@pytest.mark.parametrize("header", ["Delivered-To", "X-Original-To", "Envelope-To", "To"])
def test_a_bare_report_to_the_signed_return_path_suppresses_its_address(
    header: str, db: Database, mail_settings: Settings, sent: dict[str, SentCopy], tmp_path: Path
) -> None:
    verp = sent[VICTIM].mail_from
    assert verp.startswith("bounces+s") and verp.endswith("@example.org")
    folder = make_maildir(
        tmp_path / "bounces",
        bare_dsn(VICTIM, delivered_to=verp, header=header),
        # The victim's return path does not lend itself to another address.
        bare_dsn(ATTACKER, delivered_to=verp, header=header),
    )

    report = import_maildir(db, mail_settings.email, folder, now=NOW)

    assert (report.bounced, report.unmatched) == (1, 1)
    assert state(db, VICTIM) is SubscriberState.BOUNCED
    assert state(db, ATTACKER) is SubscriberState.ACTIVE


def test_return_paths_count_only_while_one_is_configured(
    db: Database, mail_settings: Settings, sent: dict[str, SentCopy], tmp_path: Path
) -> None:
    folder = make_maildir(tmp_path / "b", bare_dsn(VICTIM, delivered_to=sent[VICTIM].mail_from))
    without = mail_settings.model_copy(update={"return_path": None})

    report = import_maildir(db, without.email, folder, now=NOW)

    assert report.unmatched == 1
    assert state(db, VICTIM) is SubscriberState.ACTIVE


def test_a_bounced_confirmation_email_is_tied_by_its_signed_message_id(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    with db.session() as session:
        pending = make_subscriber(session, "new@example.com", state=SubscriberState.PENDING)
        other = make_subscriber(session, "other@example.com", state=SubscriberState.PENDING)
        pending_id, other_id = pending.id, other.id
        queue_email(session, CONFIRMATION_EMAIL, NOW, subscriber_id=pending_id)
    assert send_outbox(db, settings, NOW).sent == [(CONFIRMATION_EMAIL, pending_id)]
    (received,) = smtp_sink.messages_to("new@example.com")
    sent = str(received["Message-ID"])

    # Signed for the subscriber, but never sent: its signature alone proves nothing.
    unsent = render_subscriber_email(
        settings.email, CONFIRMATION_EMAIL, subscriber_id=pending_id, email="new@example.com"
    )["Message-ID"]
    assert str(unsent) != sent  # unique per message
    folder = make_maildir(
        tmp_path / "b",
        multipart_dsn("other@example.com", sent),  # signed for someone else
        multipart_dsn("new@example.com", str(unsent)),
        multipart_dsn("new@example.com", sent),
    )

    report = import_maildir(db, settings.email, folder, now=NOW)

    assert (report.bounced, report.unmatched) == (1, 2)
    assert state(db, "new@example.com") is SubscriberState.BOUNCED
    assert state(db, "other@example.com") is SubscriberState.PENDING
    assert other_id != pending_id
    with db.session() as session:
        row = session.scalars(select(OutboxEmail).where(OutboxEmail.message_id == sent)).one()
        assert row.status is OutboxStatus.BOUNCED
