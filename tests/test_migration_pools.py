"""Migration 0017 on a database with data: `editions`, `edition_items` and `edition_id`
become `pools`, `pool_items` and `pool_id` with every row kept and every foreign key still
enforced, and the downgrade gives the old names back with the same rows."""

from __future__ import annotations

from datetime import date

import pytest
from alembic import command
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from digest.store.db import Database
from digest.store.migrate import alembic_config, upgrade
from digest.store.models import Delivery, DeliveryStatus, Pool, PoolItem
from digest.store.types import utcnow
from tests.conftest import reset_schema

MOMENT = "'2026-01-01 00:00:00+00'"


def seed_0016(database: Database) -> None:
    """Two days' pools (two papers each) and a sent and a pending delivery, in the names of
    revision 0016; the database gives the ids (1 and 2 of each) as it would in use."""
    with database.engine.begin() as connection:
        for number in (1, 2):
            connection.exec_driver_sql(
                "INSERT INTO subscribers (email, state, timezone, send_hour, frequency,"
                f" send_weekday, topics, created_at, updated_at) VALUES ('r{number}@example.org',"
                f" 'active', 'UTC', 7, 'daily', 0, '[]', {MOMENT}, {MOMENT})"
            )
            connection.exec_driver_sql(
                "INSERT INTO papers (arxiv_id, title, abstract, authors, categories, keywords,"
                f" url, source, first_seen_at, updated_at) VALUES ('2601.0000{number}',"
                f" 'Paper {number}', '', '[]', '[]', '[]', 'https://arxiv.org/abs/{number}', 'hf',"
                f" {MOMENT}, {MOMENT})"
            )
        for pool_id, day in ((1, "2026-01-01"), (2, "2026-01-02")):
            connection.exec_driver_sql(
                f"INSERT INTO editions (date, created_at) VALUES ('{day}', {MOMENT})"
            )
            for rank, paper_id in ((1, 2), (2, 1)):
                connection.exec_driver_sql(
                    "INSERT INTO edition_items (edition_id, paper_id, rank, score, upvote_gain,"
                    f" star_gain) VALUES ({pool_id}, {paper_id}, {rank}, {3 - rank}.5, 4, 0)"
                )
        for subscriber_id, status in ((1, "sent"), (2, "pending")):
            connection.exec_driver_sql(
                "INSERT INTO deliveries (subscriber_id, edition_id, status, claimed_at, attempts,"
                f" uncertain) VALUES ({subscriber_id}, 1, '{status}', {MOMENT}, 0, 0)"
            )


@pytest.fixture
def at_0016(database_url: str) -> Database:
    database = Database(database_url)
    reset_schema(database)
    upgrade(database_url, "0016")
    seed_0016(database)
    return database


def test_upgrading_renames_to_pools_and_keeps_every_row_and_key(
    database_url: str, at_0016: Database
) -> None:
    database = at_0016
    try:
        upgrade(database_url)

        tables = set(inspect(database.engine).get_table_names())
        assert {"pools", "pool_items"} <= tables
        assert not {"editions", "edition_items"} & tables
        with database.session() as session:
            pools = session.execute(select(Pool.id, Pool.date).order_by(Pool.id)).all()
            assert pools == [(1, date(2026, 1, 1)), (2, date(2026, 1, 2))]
            items = session.execute(
                select(PoolItem.pool_id, PoolItem.rank, PoolItem.paper_id).order_by(PoolItem.id)
            ).all()
            assert items == [(1, 1, 2), (1, 2, 1), (2, 1, 2), (2, 2, 1)]
            deliveries = session.execute(
                select(Delivery.subscriber_id, Delivery.pool_id, Delivery.status)
            ).all()
            assert sorted(deliveries) == [
                (1, 1, DeliveryStatus.SENT),
                (2, 1, DeliveryStatus.PENDING),
            ]
            # A new pool takes the next id (PostgreSQL's renamed sequence still feeds it).
            session.add(Pool(date=date(2026, 1, 3), created_at=utcnow()))
            session.flush()
            assert session.scalars(select(Pool.id).where(Pool.date == date(2026, 1, 3))).one() == 3

        # The keys hold under their new names: one copy per subscriber and pool, no row
        # pointing at a pool that does not exist, and a removed pool takes its rows along.
        for pool_id in (1, 99):
            with pytest.raises(IntegrityError), database.session() as session:
                session.add(
                    Delivery(
                        subscriber_id=1,
                        pool_id=pool_id,
                        status=DeliveryStatus.PENDING,
                        claimed_at=utcnow(),
                    )
                )
        with database.session() as session:
            session.execute(text("DELETE FROM pools WHERE id = 1"))
        with database.session() as session:
            assert session.scalars(select(PoolItem.pool_id).distinct()).all() == [2]
            assert session.scalars(select(Delivery.id)).all() == []
    finally:
        reset_schema(database)
        database.dispose()


def test_downgrading_gives_the_old_names_back_with_the_rows(
    database_url: str, at_0016: Database
) -> None:
    database = at_0016
    try:
        upgrade(database_url)
        command.downgrade(alembic_config(database_url), "0016")

        tables = set(inspect(database.engine).get_table_names())
        assert {"editions", "edition_items"} <= tables
        assert not {"pools", "pool_items"} & tables
        with database.engine.connect() as connection:
            items = connection.exec_driver_sql(
                "SELECT edition_id, rank, paper_id FROM edition_items ORDER BY id"
            ).all()
            assert items == [(1, 1, 2), (1, 2, 1), (2, 1, 2), (2, 2, 1)]
            deliveries = connection.exec_driver_sql(
                "SELECT subscriber_id, edition_id, status FROM deliveries ORDER BY subscriber_id"
            ).all()
            assert deliveries == [(1, 1, "sent"), (2, 1, "pending")]
            names = {
                constraint["name"]
                for constraint in inspect(connection).get_unique_constraints("deliveries")
            }
            assert names == {"uq_deliveries_subscriber_edition"}
        with pytest.raises(IntegrityError), database.engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO deliveries (subscriber_id, edition_id, status, claimed_at, attempts,"
                f" uncertain) VALUES (2, 99, 'pending', {MOMENT}, 0, 0)"
            )

        upgrade(database_url)  # and up again, on the downgraded schema
        with database.session() as session:
            assert len(session.scalars(select(PoolItem.id)).all()) == 4
    finally:
        reset_schema(database)
        database.dispose()
