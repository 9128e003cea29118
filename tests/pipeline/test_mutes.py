"""A muted paper never reaches its subscriber, on SQLite and PostgreSQL: not in the email (a
real SMTP server), not in the personal feed, not in the preview, however it trends; and a
subscriber who mutes nothing gets exactly the edition they got before mutes existed."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from digest.pipeline.feeds import build_personal_feed
from digest.pipeline.plan import send_due_now
from digest.pipeline.pool import day_pool
from digest.pipeline.preview import preview_digest, preview_edition
from digest.pipeline.seeds import add_seed_papers
from digest.rank.features import Follows
from digest.rank.personalize import SubscriberProfile, personalize
from digest.settings import Settings
from digest.sources.library import parse_submission
from digest.store.db import Database
from digest.store.follows import MuteChanges, change_mutes
from digest.store.models import Delivery, DeliveryPaper, Subscriber
from digest.store.seeds import remove_seeds
from digest.tokens import Purpose, TokenSubject, email_fingerprint
from tests.conftest import SmtpSink
from tests.factories import make_paper, make_subscriber

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
TOP = "Benchmark-only leaderboard for LLM agents"  # the day's most upvoted paper


@pytest.fixture
def store_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url})


def _papers(db: Database) -> None:
    with db.session() as session:
        for upvotes, title, abstract in (
            (400, TOP, "A new benchmark: agents ranked on a leaderboard."),
            (90, "Scaling laws for language models", "Loss falls as a power law in tokens."),
            (60, "Video diffusion models at scale", "Denoising frames jointly keeps motion."),
            (30, "Robot arms learn to grasp", "Manipulators pick household objects."),
        ):
            make_paper(session, listed_on=DAY, upvotes=upvotes, title=title, abstract=abstract)
        make_paper(
            session,
            listed_on=DAY,
            upvotes=200,
            title="Quantum error correction at scale",
            abstract="Surface codes on real chips.",
        ).authors = ["Grace Hopper"]


def _subscriber(db: Database, email: str, **values: object) -> Subscriber:
    with db.session() as session:
        row = make_subscriber(session, email, edition_size=5)
        for name, value in values.items():
            setattr(row, name, value)
        session.flush()
        session.expunge(row)
        return row


def _edition(db: Database, email: str) -> list[tuple[int, str]]:
    with db.session() as session:
        return [
            (paper_id, why)
            for paper_id, why in session.execute(
                select(DeliveryPaper.paper_id, DeliveryPaper.why)
                .join(Delivery)
                .where(Delivery.subscriber.has(email=email))
                .order_by(DeliveryPaper.rank)
            )
        ]


def _feed(db: Database, settings: Settings, row: Subscriber) -> str:
    secret = settings.secret_key
    subject = TokenSubject(
        row.id, email_fingerprint(secret, row.email), secret, Purpose.PREFERENCES
    )
    return build_personal_feed(db, settings, subject, self_url="https://x/feed").decode()


def test_a_muted_paper_reaches_no_email_feed_or_preview_whatever_its_trend(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    _papers(db)
    muter = _subscriber(
        db, "muter@example.org", muted=["benchmark"], muted_authors=["grace hopper"]
    )
    _subscriber(db, "plain@example.org")
    assert day_pool(db, store_settings.ranking, DAY, NOW) is not None

    preview = preview_edition(
        db, store_settings, muter.id, topics=[], categories=[], authors=[], size=5
    )
    assert preview is not None
    titles = [entry.title for entry in preview.entries]
    assert TOP not in titles and "Quantum error correction at scale" not in titles
    assert titles == [
        "Scaling laws for language models",
        "Video diffusion models at scale",
        "Robot arms learn to grasp",
    ]
    assert TOP not in _feed(db, store_settings, muter)
    assert "Quantum error correction" not in _feed(db, store_settings, muter)
    text = preview_digest(db, store_settings, "muter@example.org", DAY).get_body(("plain",))
    assert text is not None and TOP not in str(text.get_content())

    assert send_due_now(db, store_settings, NOW, edition=DAY).sent == 2
    mails = {str(m["To"]): str(m.get_body(("plain",)).get_content()) for m in smtp_sink.received}  # type: ignore[union-attr]
    assert TOP not in mails["muter@example.org"]
    assert "Quantum error correction" not in mails["muter@example.org"]
    assert TOP in mails["plain@example.org"]  # muted for one reader, not for everyone


def test_typed_mutes_shape_the_preview_before_they_are_saved(
    db: Database, store_settings: Settings
) -> None:
    _papers(db)
    reader = _subscriber(db, "reader@example.org", topics=["agents"])
    assert day_pool(db, store_settings.ranking, DAY, NOW) is not None

    def titles(**mutes: list[str]) -> list[str]:
        found = preview_edition(
            db, store_settings, reader.id, topics=["agents"], categories=[], authors=[], size=5,
            **mutes,
        )  # fmt: skip
        assert found is not None
        return [entry.title for entry in found.entries]

    assert TOP in titles()
    assert TOP not in titles(muted=["LLM agents"])
    assert TOP in titles(muted=[])


def test_nothing_muted_or_seeded_is_the_edition_ranking_gave_before(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    """The pipeline's edition for a subscriber with none of the new settings equals what
    ranking alone picks from their follows (the path before mutes, seed papers and the
    learning switch), and a subscriber who set each of them and then undid it gets the same
    edition, why-lines included."""
    _papers(db)
    _subscriber(db, "plain@example.org", topics=["language models"])
    cleared = _subscriber(db, "cleared@example.org", topics=["language models"])
    bib = b"@misc{a, title = {Robot hands}, abstract = {Fingers grasp objects.}}\n"
    parsed = parse_submission("", bib, "mine.bib")
    assert add_seed_papers(db, store_settings, [cleared.id], parsed).added == 1
    with db.session() as session:
        change_mutes(session, cleared.email, MuteChanges("benchmark", "Grace Hopper"))
        session.get_one(Subscriber, cleared.id).learn_from_ratings = False
    with db.session() as session:
        remove_seeds(session, cleared.id, None)
        change_mutes(session, cleared.email, MuteChanges("", ""))
        session.get_one(Subscriber, cleared.id).learn_from_ratings = True
    pool = day_pool(db, store_settings.ranking, DAY, NOW)
    assert pool is not None
    [before] = personalize(
        pool.candidates,
        [SubscriberProfile(1, Follows(topics=("language models",)), size=5)],
        store_settings.ranking.blend,
    )
    expected = [pool.candidates.papers[pick.pool_index].paper_id for pick in before]

    assert send_due_now(db, store_settings, NOW, edition=DAY).sent == 2
    plain = _edition(db, "plain@example.org")
    assert [paper_id for paper_id, _ in plain] == expected
    assert _edition(db, "cleared@example.org") == plain
