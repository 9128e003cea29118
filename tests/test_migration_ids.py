"""Migration 0014 on a database with data: every row and id is kept (the SQLite rebuild of
`subscribers` must not cascade to the rows that point at it), and from then on a deleted
subscriber's id is never given again."""

from __future__ import annotations

from sqlalchemy import select, text

from digest.store.db import Database
from digest.store.migrate import upgrade
from digest.store.models import Delivery, Feedback, OutboxEmail, Subscriber
from digest.store.subscribers import remove_subscriber
from tests.conftest import reset_schema
from tests.factories import make_subscriber

MOMENT = "'2026-01-01 00:00:00+00'"


def seed_0012(database: Database) -> None:
    """Three subscribers (the third deleted), with a delivery, a vote and an outbox row."""
    with database.engine.begin() as connection:
        for number in (1, 2, 3):  # ids 1, 2 and 3, given by the database
            connection.execute(
                text(
                    "INSERT INTO subscribers (email, state, timezone, send_hour, frequency,"
                    " send_weekday, topics, created_at, updated_at) VALUES (:email, 'active',"
                    f" 'UTC', 7, 'daily', 0, '[]', {MOMENT}, {MOMENT})"
                ),
                {"email": f"reader{number}@example.org"},
            )
        connection.exec_driver_sql(
            f"INSERT INTO editions (id, date, created_at) VALUES (1, '2026-01-01', {MOMENT})"
        )
        connection.exec_driver_sql(
            "INSERT INTO papers (id, arxiv_id, title, abstract, authors, categories, keywords,"
            " url, source, first_seen_at, updated_at) VALUES (1, '2601.00001', 'A paper', '',"
            f" '[]', '[]', '[]', 'https://arxiv.org/abs/2601.00001', 'hf', {MOMENT}, {MOMENT})"
        )
        connection.exec_driver_sql(
            "INSERT INTO deliveries (subscriber_id, edition_id, status, message_id, claimed_at,"
            " attempts, uncertain) VALUES (2, 1, 'sent', '<digest.2026-01-01.2.x@example.org>',"
            f" {MOMENT}, 1, 0)"
        )
        connection.exec_driver_sql(
            "INSERT INTO feedback (subscriber_id, paper_id, rating, created_at, updated_at)"
            f" VALUES (2, 1, 1, {MOMENT}, {MOMENT})"
        )
        connection.exec_driver_sql(
            "INSERT INTO outbox (kind, subscriber_id, request, status, attempts, created_at)"
            f" VALUES ('confirm', 1, '{{}}', 'sent', 1, {MOMENT})"
        )
        connection.exec_driver_sql("DELETE FROM subscribers WHERE id = 3")


def test_upgrading_keeps_every_row_and_id_and_ids_are_never_given_twice(
    database_url: str,
) -> None:
    database = Database(database_url)
    reset_schema(database)
    upgrade(database_url, "0012")
    seed_0012(database)
    try:
        upgrade(database_url)

        with database.session() as session:
            subscribers = session.execute(select(Subscriber.id, Subscriber.email)).all()
            assert sorted(subscribers) == [(1, "reader1@example.org"), (2, "reader2@example.org")]
            assert session.scalars(select(Delivery.subscriber_id)).all() == [2]
            assert session.scalars(select(Feedback.subscriber_id)).all() == [2]
            outbox = session.execute(select(OutboxEmail.subscriber_id, OutboxEmail.message_id))
            assert outbox.all() == [(1, None)]
        # From here on, a deleted subscriber's id is never given to the next one.
        with database.session() as session:
            newest = make_subscriber(session, "newest@example.org").id
        with database.session() as session:
            remove_subscriber(session, "newest@example.org", suppress_address=False)
        with database.session() as session:
            after = make_subscriber(session, "after@example.org").id
        assert after > newest > 2
        if database.is_sqlite:
            with database.engine.connect() as connection:
                schema = connection.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'subscribers'"
                ).scalar_one()
                assert "AUTOINCREMENT" in schema
                # Foreign keys are on again for every connection after the migration.
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        reset_schema(database)
        database.dispose()
