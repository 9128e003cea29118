"""Recording outcomes through database faults: a mark survives a dropped connection, a
database that stays away leaves the mark in the journal, and a sender that died with a
message in flight leaves that row counted as uncertain."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from digest.papers import EditionEntry
from digest.pipeline.emails import CONFIRMATION_EMAIL
from digest.pipeline.notices import send_outbox
from digest.pipeline.plan import plan_deliveries
from digest.settings import Settings
from digest.store.db import Database
from digest.store.deliveries import (
    DatabaseLost,
    DeliveryRecorder,
    claim_batch,
    held_rows,
    pools_with_work,
    uncertain_rows,
)
from digest.store.journal import SendJournal
from digest.store.models import (
    Delivery,
    DeliveryPaper,
    DeliveryStatus,
    OutboxEmail,
    OutboxStatus,
    Paper,
)
from digest.store.subscribers import request_subscription
from tests.conftest import POSTGRES_URL, ScriptedSmtp, free_port
from tests.factories import begin_sending, make_paper, make_subscriber, record_sent, sent_mark

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
LEASE = 600


def _queued(db: Database, settings: Settings, readers: int) -> int:
    with db.session() as session:
        make_paper(session, listed_on=DAY, upvotes=10)
        for _ in range(readers):
            make_subscriber(session)
    plan_deliveries(db, settings, NOW, edition=DAY)
    [(pool_id, _)] = pools_with_work(db, NOW)
    return pool_id


def _entries(db: Database) -> list[EditionEntry]:
    with db.session() as session:
        paper_id = session.scalars(select(Paper.id)).first()
    assert paper_id is not None
    return [
        EditionEntry(rank=1, score=1.0, arxiv_id="2611.00001", title="t", abstract="a",
                     url="https://arxiv.org/abs/2611.00001", upvotes=1, paper_id=paper_id)
    ]  # fmt: skip


def _paper_rows(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(DeliveryPaper)) or 0)


def _status(db: Database, delivery_id: int) -> DeliveryStatus:
    with db.session() as session:
        return session.get_one(Delivery, delivery_id).status


def test_a_mark_written_twice_is_written_once(db: Database, settings: Settings) -> None:
    pool_id = _queued(db, settings, 1)
    [claim] = claim_batch(db, pool_id, NOW, 10, LEASE)
    with DeliveryRecorder.open(db) as recorder:
        recorder.settle_and_begin([sent_mark(claim.row_id, "<m@x>", _entries(db), NOW)], [], NOW)
        recorder.settle_and_begin(
            [sent_mark(claim.row_id, "<m@x>", _entries(db), NOW)], [], NOW
        )  # a retried commit
    assert _status(db, claim.row_id) is DeliveryStatus.SENT
    assert _paper_rows(db) == 1


def _terminate_others(url: str) -> int:
    """Drop every connection to the database of `url`, as a failover or restart would."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        killed = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": make_url(url).database},
        ).scalar_one()
    admin.dispose()
    return int(killed)


def test_a_mark_survives_the_database_dropping_the_connection(
    pg_db: Database, settings: Settings
) -> None:
    pool_id = _queued(pg_db, settings, 2)
    first, second = claim_batch(pg_db, pool_id, NOW, 10, LEASE)
    entries = _entries(pg_db)
    with DeliveryRecorder.open(pg_db) as recorder:
        assert begin_sending(recorder, first, NOW)
        # The SMTP server accepts the message; meanwhile the database drops every connection.
        assert _terminate_others(pg_db.url) >= 1
        recorder.settle_and_begin([sent_mark(first.row_id, "<first@x>", entries, NOW)], [], NOW)
        assert begin_sending(recorder, second, NOW)
        assert _terminate_others(pg_db.url) >= 1
        recorder.settle_and_begin([sent_mark(second.row_id, "<second@x>", entries, NOW)], [], NOW)
    assert _status(pg_db, first.row_id) is DeliveryStatus.SENT
    assert _status(pg_db, second.row_id) is DeliveryStatus.SENT
    assert _paper_rows(pg_db) == 2


def test_a_database_that_stays_away_leaves_the_mark_in_the_journal_for_the_next_send(
    pg_db: Database, settings: Settings, tmp_path: Path
) -> None:
    pool_id = _queued(pg_db, settings, 1)
    [claim] = claim_batch(pg_db, pool_id, NOW, 10, LEASE)
    journal = SendJournal(tmp_path / "journal.jsonl")
    entries = _entries(pg_db)
    name = make_url(pg_db.url).database
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with DeliveryRecorder.open(pg_db, journal, retry_seconds=1.0) as recorder:
        assert begin_sending(recorder, claim, NOW)
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        try:
            _terminate_others(pg_db.url)
            with pytest.raises(DatabaseLost, match=r"journal\.jsonl"):
                recorder.settle_and_begin(
                    [sent_mark(claim.row_id, "<kept@x>", entries, NOW)], [], NOW
                )
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            admin.dispose()
    assert journal.path.read_text().count("\n") == 1

    assert journal.replay(pg_db) == 1
    assert _status(pg_db, claim.row_id) is DeliveryStatus.SENT
    assert journal.path.read_text() == ""
    assert journal.replay(pg_db) == 0  # replaying again writes nothing twice
    assert _paper_rows(pg_db) == 1


def test_a_sender_that_died_mid_message_leaves_that_row_uncertain_and_the_rest_plain(
    db: Database, settings: Settings
) -> None:
    pool_id = _queued(db, settings, 3)
    claims = claim_batch(db, pool_id, NOW, 10, LEASE)
    with DeliveryRecorder.open(db) as recorder:
        record_sent(recorder, claims[0].row_id, "<a@x>", [], NOW)
        assert begin_sending(recorder, claims[1], NOW)
        # ...and the sender is killed here, between the server's answer and the mark.

    assert held_rows(db, NOW + timedelta(seconds=10)).live == 2
    later = NOW + timedelta(seconds=LEASE + 1)
    assert held_rows(db, later).expired == 2
    retaken = claim_batch(db, pool_id, later, 10, LEASE)

    assert sorted(c.row_id for c in retaken) == sorted(c.row_id for c in claims[1:])
    assert uncertain_rows(db) == 1  # the one in flight; the one never reached is not
    with db.session() as session:
        uncertain = session.scalars(select(Delivery.id).where(Delivery.uncertain > 0)).all()
    assert uncertain == [claims[1].row_id]


class DropsTheDatabase(ScriptedSmtp):
    """An SMTP server that accepts each message while the database drops every connection."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        _terminate_others(self.url)
        return await super().handle_DATA(server, session, envelope)


def test_a_subscriber_email_accepted_during_a_database_drop_is_marked_once(
    pg_db: Database, settings: Settings
) -> None:
    handler = DropsTheDatabase(pg_db.url)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with pg_db.session() as session:
            request_subscription(session, "new@example.org", now=NOW)
        smtp = settings.model_copy(update={"mail_url": f"smtp://127.0.0.1:{port}"})
        first = send_outbox(pg_db, smtp, NOW)
        again = send_outbox(pg_db, smtp, NOW + timedelta(hours=1))
    finally:
        controller.stop()
    assert [kind for kind, _ in first.sent] == [CONFIRMATION_EMAIL]
    assert again.handled == 0
    assert handler.accepted == ["new@example.org"]
    with pg_db.session() as session:
        assert session.scalars(select(OutboxEmail.status)).all() == [OutboxStatus.SENT]
