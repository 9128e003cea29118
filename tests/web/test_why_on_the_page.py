"""Every part of every why-line in the email names something the reader finds on their
preferences page: an author, topic or category they follow, a paper they rated up or gave
as their own, or the day's trend, which the page explains. On SQLite and PostgreSQL, through
the real send (an SMTP server) and the real page."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from digest.pipeline.plan import send_due_now
from digest.settings import Settings
from digest.store.db import Database
from digest.store.feedback import Vote, record_feedback
from digest.store.models import Delivery, DeliveryPaper, SeedPaper
from digest.tokens import Purpose, make_token
from digest.web import create_app
from tests.conftest import SmtpSink
from tests.factories import make_paper, make_subscriber

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
AUTHOR = re.compile(r"^by (.+), whom you follow$")
TOPICS = re.compile(r"^matches (.+)$")
LIKE = re.compile(r'^like "(.+?)…?"$')
CATEGORY = re.compile(r"^new in (\S+)$")
TREND = re.compile(r"^(?:\+\d+ (?:upvotes?|stars?) in \d+h|#\d+ trending today)$")


@pytest.fixture
def store_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url})


def _store(db: Database) -> int:
    with db.session() as session:
        for number in range(15):  # a pool large enough for "clearly like" to mean something
            make_paper(session, listed_on=DAY, upvotes=1 + number % 3).authors = ["Pat Doe"]
        for upvotes, title, abstract, authors, categories in (
            (300, "Scaling laws for language models", "Loss falls as a power law in tokens.",
             ["Kim Lee"], ["cs.CL"]),
            (80, "Diffusion policies for robot arms", "Denoising actions for manipulation.",
             ["Ada Lovelace"], ["cs.LG"]),
            (40, "Dexterous hands grasp household objects",
             "Five-finger hands pick household objects with tactile sensing.", ["Jo Park"],
             ["cs.CV"]),
            (30, "Byte-level language models without tokenizers",
             "Models read raw bytes, no tokenizer vocabulary.", ["Ana Ruiz"], ["cs.CL"]),
            (20, "Quantum control of soft actuators", "Pulses steer qubits in grippers.",
             ["Li Wei"], ["cs.RO"]),
        ):  # fmt: skip
            paper = make_paper(
                session, listed_on=DAY, upvotes=upvotes, title=title, abstract=abstract
            )
            paper.authors, paper.categories = authors, categories
        rated = make_paper(
            session,
            listed_on=DAY - timedelta(days=30),
            title="Tokenizer-free language models read bytes",
            abstract="Raw bytes replace the tokenizer vocabulary in language models.",
        )
        reader = make_subscriber(
            session, "reader@example.org", topics=["diffusion"], edition_size=8
        )
        reader.authors, reader.categories = ["Ada Lovelace"], ["cs.RO"]
        session.add(
            SeedPaper(
                subscriber_id=reader.id,
                key="title:grasp",
                title="Robot hands grasp household objects with five fingers",
                abstract="Dexterous hands with tactile sensing pick household objects.",
                origin="file",
            )
        )
        reader_id = reader.id
    with db.session() as session:
        record_feedback(session, reader_id, rated.arxiv_id, Vote.MORE)
    return reader_id


def test_each_why_line_names_something_on_the_preferences_page(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    reader_id = _store(db)
    assert send_due_now(db, store_settings, NOW, edition=DAY).sent == 1
    with db.session() as session:
        whys = [
            why
            for why in session.scalars(
                select(DeliveryPaper.why).join(Delivery).order_by(DeliveryPaper.rank)
            )
            if why
        ]
    token = make_token(
        store_settings.secret_key, Purpose.PREFERENCES, reader_id, "reader@example.org"
    )
    with TestClient(create_app(store_settings, db, lambda: None)) as client:
        page = client.get(f"/preferences?token={token}").text
    text = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))
    legend = text[text.index("Reading the “why” line") :]

    kinds: set[str] = set()
    for why in whys:
        for part in why.split(" · "):
            if AUTHOR.match(part):
                kinds.add("author")
                for name in AUTHOR.match(part).group(1).split(" and "):  # type: ignore[union-attr]
                    # The follow as typed; the line spells the name as the paper does.
                    assert f"authors {name}".lower() in text.lower(), part
            elif TOPICS.match(part):
                kinds.add("topic")
                for topic in re.findall(r"'([^']+)'", part):
                    assert f"topics {topic}" in text, part
            elif LIKE.match(part):
                kinds.add("like")
                title = LIKE.match(part).group(1).rstrip("…")  # type: ignore[union-attr]
                listed = text[
                    text.index("Start from your own papers") : text.index("Learning from")
                ]
                assert title in listed, part
            elif CATEGORY.match(part):
                kinds.add("category")
                assert f"categories {CATEGORY.match(part).group(1)}" in text, part  # type: ignore[union-attr]
            else:
                trend = part.split(", ")
                assert all(TREND.match(note) for note in trend), f"{part!r} names nothing known"
                kinds.add("trend")
                assert "trending today" in legend and "upvotes in 24h" in legend
    # Not a test that cannot fail: the edition carries every kind of reason.
    assert kinds == {"author", "topic", "like", "category", "trend"}, whys
