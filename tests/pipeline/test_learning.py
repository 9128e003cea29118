"""The learning switch and "forget my ratings", on SQLite and PostgreSQL: while learning is
off the votes are kept but shape nothing (seed papers still count); forgotten votes are gone."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from digest.pipeline.editions import pick_editions, profiles_of
from digest.pipeline.pool import day_pool
from digest.pipeline.tastes import forget_ratings, set_learning, tastes_of
from digest.settings import Settings
from digest.store.db import Database
from digest.store.feedback import Vote, record_feedback
from digest.store.models import Feedback, SeedPaper, Subscriber
from digest.tokens import Purpose, TokenSubject, email_fingerprint
from tests.factories import make_paper, make_subscriber

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def test_learning_off_keeps_the_votes_out_of_the_ranking_and_forget_deletes_them(
    db: Database, settings: Settings, database_url: str
) -> None:
    settings = settings.model_copy(update={"database_url": database_url})
    with db.session() as session:
        make_paper(session, listed_on=DAY, upvotes=90, title="Scaling laws", abstract="Tokens.")
        robots = make_paper(
            session, listed_on=DAY, upvotes=5, title="Robot hands grasp", abstract="Fingers."
        )
        for _ in range(6):
            make_paper(session, listed_on=DAY, upvotes=3)
        reader = make_subscriber(session, "reader@example.org", edition_size=2)
        session.add(
            SeedPaper(subscriber_id=reader.id, key="title:x", title="Soft grippers",
                      abstract="Grippers that feel.", origin="file")
        )  # fmt: skip
        reader_id, robots_id = reader.id, robots.arxiv_id
    with db.session() as session:
        record_feedback(session, reader_id, robots_id, Vote.MORE)
    subject = TokenSubject(
        reader_id,
        email_fingerprint(settings.secret_key, "reader@example.org"),
        settings.secret_key,
        Purpose.PREFERENCES,
    )
    pool = day_pool(db, settings.ranking, DAY, NOW)
    assert pool is not None

    def liked_and_first() -> tuple[list[str], str]:
        with db.session() as session:
            [profile] = profiles_of(session, [session.get_one(Subscriber, reader_id)], pool)
        [entries] = pick_editions(pool, [profile], settings.ranking)
        return [text.title for text in profile.liked], entries[0].title

    assert liked_and_first() == (["Robot hands grasp", "Soft grippers"], "Robot hands grasp")
    set_learning(db, subject, False)
    assert liked_and_first() == (["Soft grippers"], "Scaling laws")
    tastes = tastes_of(db, settings, reader_id)
    assert (tastes.learning, [v.title for v in tastes.rated_up]) == (False, ["Robot hands grasp"])
    set_learning(db, subject, True)
    assert liked_and_first()[1] == "Robot hands grasp"

    assert forget_ratings(db, subject) == 1
    assert liked_and_first() == (["Soft grippers"], "Scaling laws")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Feedback)) == 0
        assert session.scalar(select(func.count()).select_from(SeedPaper)) == 1
