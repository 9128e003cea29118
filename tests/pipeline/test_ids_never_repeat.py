"""A subscriber id means one person for good, on SQLite and PostgreSQL: a deleted
subscriber's id is never given to the next one, so the first person's signed return path
or notice Message-ID never verifies for the second (whom a report would then suppress).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from digest.pipeline.bounces import import_maildir
from digest.pipeline.emails import CONFIRMATION_EMAIL
from digest.pipeline.notices import send_outbox
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from digest.store.outbox import queue_email
from digest.store.subscribers import remove_subscriber
from tests.conftest import SmtpSink
from tests.factories import make_subscriber
from tests.mail.reports import NOW, RETURN_PATH, bare_dsn, make_maildir, multipart_dsn, send_edition

FIRST = "first@example.com"
SECOND = "second@example.com"


@pytest.fixture
def mail_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url, "return_path": RETURN_PATH})


def state_and_id(db: Database, email: str) -> tuple[SubscriberState, int]:
    with db.session() as session:
        row = session.execute(
            select(Subscriber.state, Subscriber.id).where(Subscriber.email == email)
        ).one()
    return row[0], row[1]


def test_the_id_of_a_deleted_subscriber_is_never_given_again(db: Database) -> None:
    with db.session() as session:
        make_subscriber(session, "kept@example.com")
        deleted = make_subscriber(session, FIRST).id  # the highest id so far
    with db.session() as session:
        remove_subscriber(session, FIRST, suppress_address=False)
    with db.session() as session:
        after = make_subscriber(session, SECOND).id

    assert after > deleted


def test_an_old_return_path_does_not_bounce_the_next_subscriber(
    db: Database, mail_settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    sent = send_edition(db, mail_settings, smtp_sink, [FIRST])
    old_return_path = sent[FIRST].mail_from
    assert old_return_path.startswith("bounces+s")
    with db.session() as session:
        remove_subscriber(session, FIRST)
    with db.session() as session:
        make_subscriber(session, SECOND)
    # Whoever kept the first person's return path reports the second person's address.
    folder = make_maildir(tmp_path / "bounces", bare_dsn(SECOND, delivered_to=old_return_path))

    report = import_maildir(db, mail_settings.email, folder, now=NOW)

    assert (report.bounced, report.unmatched) == (0, 1)
    assert state_and_id(db, SECOND)[0] is SubscriberState.ACTIVE


def test_an_old_confirmation_message_id_does_not_apply_to_the_next_subscriber(
    db: Database, mail_settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    with db.session() as session:
        first = make_subscriber(session, FIRST, state=SubscriberState.PENDING).id
        queue_email(session, CONFIRMATION_EMAIL, NOW, subscriber_id=first)
    assert send_outbox(db, mail_settings, NOW).sent == [(CONFIRMATION_EMAIL, first)]
    (confirmation,) = smtp_sink.messages_to(FIRST)
    with db.session() as session:
        remove_subscriber(session, FIRST)
    with db.session() as session:
        make_subscriber(session, SECOND, state=SubscriberState.PENDING)
    folder = make_maildir(
        tmp_path / "bounces", multipart_dsn(SECOND, str(confirmation["Message-ID"]))
    )

    report = import_maildir(db, mail_settings.email, folder, now=NOW)

    assert (report.bounced, report.unmatched) == (0, 1)
    assert state_and_id(db, SECOND)[0] is SubscriberState.PENDING
