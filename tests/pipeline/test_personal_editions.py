"""Personal editions through the store and a real SMTP server: follows, no repeats, feedback,
empty days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from digest.pipeline.plan import send_due_now
from digest.settings import Settings
from digest.store.db import Database
from digest.store.feedback import Vote, record_feedback
from digest.store.models import Delivery, DeliveryPaper, DeliveryStatus
from tests.conftest import SmtpSink
from tests.factories import make_paper, make_subscriber

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
TOMORROW = NOW + timedelta(days=1)


@pytest.fixture
def store_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url})


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def _titles(db: Database, email: str) -> list[list[str]]:
    with db.session() as session:
        rows = session.execute(
            select(Delivery.pool_id, DeliveryPaper.rank, DeliveryPaper.paper_id)
            .join(DeliveryPaper)
            .join(Delivery.subscriber)
            .where(Delivery.subscriber.has(email=email))
            .order_by(Delivery.pool_id, DeliveryPaper.rank)
        ).all()
    editions: dict[int, list[str]] = {}
    for pool_id, _, paper_id in rows:
        editions.setdefault(pool_id, []).append(f"paper-{paper_id}")
    return list(editions.values())


def _papers(db: Database) -> None:
    with db.session() as session:
        # Abstracts of their own, so what a paper shares with another does not depend on the
        # order tests run in (default abstracts come from a counter).
        for upvotes, title, abstract in (
            (90, "Scaling laws for language models", "Loss falls as a power law in tokens."),
            (60, "Video diffusion models at scale", "Denoising frames jointly keeps motion."),
            (30, "Robot arms learn to grasp", "Manipulators pick household objects."),
            (10, "Surface codes for quantum memory", "Qubits protected by stabiliser checks."),
        ):
            make_paper(session, listed_on=DAY, upvotes=upvotes, title=title, abstract=abstract)


def test_followers_get_their_matches_with_a_reason_and_nobody_gets_a_paper_twice(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    _papers(db)
    with db.session() as session:
        make_subscriber(session, "everyone@example.org", edition_size=2)
        make_subscriber(session, "diffusion@example.org", topics=["diffusion"], edition_size=2)

    assert send_due_now(db, store_settings, NOW, edition=DAY).sent == 2
    first = {str(m["To"]): _text(m) for m in smtp_sink.received}
    general = first["everyone@example.org"]
    assert general.index("Scaling laws") < general.index("Video diffusion")
    assert "Robot arms" not in general
    personal = first["diffusion@example.org"]
    assert personal.index("Video diffusion") < personal.index("Scaling laws")
    assert "matches 'diffusion'" in personal  # the "why it's here" line reaches the email
    with db.session() as session:
        whys = session.scalars(
            select(DeliveryPaper.why)
            .join(Delivery)
            .where(Delivery.subscriber.has(email="diffusion@example.org"))
            .order_by(DeliveryPaper.rank)
        ).all()
    assert whys == ["matches 'diffusion' · #2 trending today", "#1 trending today"]

    assert send_due_now(db, store_settings, TOMORROW, edition=DAY + timedelta(days=1)).sent == 2
    second = {str(m["To"]): _text(m) for m in smtp_sink.received[2:]}
    assert "Scaling laws" not in second["everyone@example.org"]
    assert "Robot arms" in second["everyone@example.org"]
    for email in ("everyone@example.org", "diffusion@example.org"):
        editions = _titles(db, email)
        assert len(editions) == 2
        assert not set(editions[0]) & set(editions[1]), f"{email} got a paper twice"


def test_a_day_with_nothing_new_sends_nothing_and_says_so(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    _papers(db)
    with db.session() as session:
        make_subscriber(session, "quantum@example.org", topics=["quantum"], edition_size=5)
    assert send_due_now(db, store_settings, NOW, edition=DAY).sent == 1
    counts = send_due_now(db, store_settings, TOMORROW, edition=DAY + timedelta(days=1))
    assert (counts.sent, counts.empty) == (0, 1)
    assert len(smtp_sink.received) == 1
    with db.session() as session:
        skipped = session.scalars(
            select(Delivery).where(Delivery.status == DeliveryStatus.SKIPPED)
        ).one()
        assert skipped.error == "no new paper qualified for this subscriber"


def test_without_skipping_empty_days_the_trending_list_is_sent_instead(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    _papers(db)
    with db.session() as session:
        make_subscriber(session, "quantum@example.org", topics=["quantum"], edition_size=2)
    keep_sending = store_settings.model_copy(update={"skip_empty_days": False})
    send_due_now(db, keep_sending, NOW, edition=DAY)
    counts = send_due_now(db, keep_sending, TOMORROW, edition=DAY + timedelta(days=1))
    assert counts.sent == 1
    assert "Robot arms" in _text(smtp_sink.received[1])


def test_more_like_this_changes_the_next_edition(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    _papers(db)
    with db.session() as session:
        make_paper(
            session,
            listed_on=DAY,
            upvotes=5,
            title="Dexterous robot hands grasp objects",
            abstract="Fingers that pick objects with care.",
        )
        reader = make_subscriber(session, "reader@example.org", edition_size=3)
        robot = make_paper(
            session,
            listed_on=DAY - timedelta(days=20),
            title="Robot grasping",
            abstract="Robot hands pick objects.",
        )
    with db.session() as session:
        record_feedback(session, reader.id, robot.arxiv_id, Vote.MORE)
    send_due_now(db, store_settings, NOW, edition=DAY)
    text = _text(smtp_sink.received[0])
    assert text.index("Robot arms") < text.index("Scaling laws")
    assert "Dexterous robot hands" in text
