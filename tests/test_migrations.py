from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from digest.store.db import Database
from digest.store.migrate import upgrade
from digest.store.models import Base, Subscriber
from tests.conftest import reset_schema


def test_migrations_build_the_schema_of_the_models(database_url: str) -> None:
    database = Database(database_url)
    reset_schema(database)
    upgrade(database_url)
    upgrade(database_url)  # running it again is harmless
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
            assert differences == []
            tables = set(inspect(connection).get_table_names())
        assert {
            "subscribers",
            "papers",
            "signal_snapshots",
            "pools",
            "pool_items",
            "deliveries",
        } <= tables
    finally:
        reset_schema(database)
        database.dispose()


def test_upgrading_keeps_existing_subscribers(database_url: str) -> None:
    database = Database(database_url)
    reset_schema(database)
    upgrade(database_url, "0001")
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO subscribers (email, state, timezone, send_hour, frequency, send_weekday,"
            " topics, created_at, updated_at) VALUES ('old@example.org', 'active', 'UTC', 7,"
            " 'daily', 0, '[\"diffusion\"]', '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')"
        )
    try:
        upgrade(database_url)
        with database.session() as session:
            subscriber = session.scalars(select(Subscriber)).one()
            assert subscriber.email == "old@example.org"
            assert subscriber.topics == ["diffusion"]
            assert (subscriber.categories, subscriber.authors, subscriber.edition_size) == (
                [],
                [],
                10,
            )
    finally:
        reset_schema(database)
        database.dispose()
