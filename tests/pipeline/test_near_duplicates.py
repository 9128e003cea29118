"""A copy of a paper a subscriber already received (new id, new version) is not sent again,
through the store and a real SMTP server; others still get it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import event, select

from digest.papers import PaperText
from digest.pipeline.editions import copies_in_pool, profiles_of
from digest.pipeline.plan import send_due_now
from digest.pipeline.pool import DayPool, day_pool
from digest.rank.pool import CandidatePool, PoolPaper
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Delivery, DeliveryPaper, Paper, Subscriber
from tests.conftest import SmtpSink
from tests.factories import make_paper, make_subscriber

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
NEXT_DAY = DAY + timedelta(days=1)
NEXT_NOW = NOW + timedelta(days=1)
TITLE = "Sparse experts at scale"
ABSTRACT = (
    "We propose a sparse mixture of experts that routes each token to two experts, train "
    "it on three trillion tokens, and match a dense model of four times the compute on "
    "reasoning, coding and translation benchmarks while halving the serving cost."
)
REVISED_TITLE = "Sparse Experts at Scale (v2): Cheaper Serving"
REVISED_ABSTRACT = (
    ABSTRACT.replace("three trillion", "four trillion").replace("halving", "cutting")
    + " Code and weights are released."
)


@pytest.fixture
def store_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url})


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def _sent_titles(db: Database, email: str) -> list[str]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Paper.title)
                .join(DeliveryPaper, DeliveryPaper.paper_id == Paper.id)
                .join(Delivery, Delivery.id == DeliveryPaper.delivery_id)
                .where(Delivery.subscriber.has(email=email))
                .order_by(Delivery.id, DeliveryPaper.rank)
            )
        )


def _first_day(db: Database) -> None:
    with db.session() as session:
        make_paper(session, listed_on=DAY, upvotes=90, title=TITLE, abstract=ABSTRACT)
        make_paper(session, listed_on=DAY, upvotes=60, title="Robot arms learn to grasp")
        make_paper(session, listed_on=DAY, upvotes=30, title="Surface codes for memory")
        make_subscriber(session, "early@example.org", edition_size=3)


def _second_day(db: Database, title: str, abstract: str) -> None:
    with db.session() as session:
        # The copy comes back under a new arXiv id, with more upvotes than anything else.
        make_paper(session, listed_on=NEXT_DAY, upvotes=400, title=title, abstract=abstract)
        make_paper(session, listed_on=NEXT_DAY, upvotes=20, title="Weather from graphs")
        make_subscriber(session, "late@example.org", edition_size=3)


@pytest.mark.parametrize("pool_days", [1, 7], ids=["new-pool", "overlapping-pools"])
@pytest.mark.parametrize(
    ("title", "abstract"),
    [(TITLE, ABSTRACT), (REVISED_TITLE, REVISED_ABSTRACT)],
    ids=["same-title-and-abstract", "new-version"],
)
def test_a_copy_of_a_received_paper_is_not_sent_again_but_others_get_it(
    db: Database,
    store_settings: Settings,
    smtp_sink: SmtpSink,
    pool_days: int,
    title: str,
    abstract: str,
) -> None:
    settings = store_settings.model_copy(update={"pool_days": pool_days})
    _first_day(db)
    assert send_due_now(db, settings, NOW, edition=DAY).sent == 1
    assert TITLE in _sent_titles(db, "early@example.org")

    _second_day(db, title, abstract)
    assert send_due_now(db, settings, NEXT_NOW, edition=NEXT_DAY).sent == 2
    early = _text(smtp_sink.messages_to("early@example.org")[-1])
    late = _text(smtp_sink.messages_to("late@example.org")[-1])
    assert "Sparse" not in early and "Weather from graphs" in early
    assert late.count("Sparse") == 1  # the work once, whichever copy the pool kept
    second_day = _sent_titles(db, "early@example.org")[3:]
    assert second_day and not any("Sparse" in sent for sent in second_day)


def test_a_copy_inside_one_pool_is_withheld_from_who_received_the_other(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    # A pool frozen by an older duplicate check may hold both copies of a work.
    _first_day(db)
    send_due_now(db, store_settings, NOW, edition=DAY)
    _second_day(db, REVISED_TITLE, REVISED_ABSTRACT)
    with db.session() as session:
        both = list(session.scalars(select(Paper).where(Paper.title.contains("parse"))))
        pool = DayPool(
            NEXT_DAY,
            pool_id=0,
            candidates=CandidatePool(
                [PoolPaper(p.id, PaperText(p.title, p.abstract), trend=1.0) for p in both]
            ),
            entries=[],
        )
        early, late = (
            session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
            for email in ("early@example.org", "late@example.org")
        )
        got_first, got_none = profiles_of(session, [early, late], pool)
    assert len(both) == 2
    assert got_first.received == {p.id for p in both}
    assert got_none.received == frozenset()


@contextmanager
def _counted(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_profiles_cost_the_same_few_queries_for_one_subscriber_or_many(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    _first_day(db)
    with db.session() as session:
        for i in range(30):
            make_subscriber(session, f"reader{i}@example.org", edition_size=3)
    send_due_now(db, store_settings, NOW, edition=DAY)
    _second_day(db, TITLE, ABSTRACT)
    pool = day_pool(db, store_settings.ranking, NEXT_DAY, NEXT_NOW)
    assert pool is not None
    with db.session() as session:
        subscribers = list(session.scalars(select(Subscriber).order_by(Subscriber.id)))
        with _counted(db) as first:
            profiles_of(session, subscribers[:1], pool)
        with _counted(db) as many:
            profiles = profiles_of(session, subscribers, pool)
        copies = copies_in_pool(session, pool)
    # The copies of the pool and what the readers of each topic rated up are found once (a
    # query each; nobody rated anything), then each batch costs its ratings, its seed papers
    # and what its subscribers received, whatever their number.
    assert len(first) == 5
    assert len(many) == 3
    copy_ids = {paper_id for ids in copies.values() for paper_id in ids}
    got_the_first_day = [p for p in profiles if p.received]
    assert len(got_the_first_day) == 31  # all but the late subscriber
    assert copy_ids and all(copy_ids <= p.received for p in got_the_first_day)
