from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from digest.store.db import Database
from digest.store.migrate import upgrade
from digest.store.models import Base


def test_migrations_build_the_schema_of_the_models(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)  # running it again is harmless
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
            assert differences == []
            tables = set(inspect(connection).get_table_names())
        assert {"subscribers", "papers", "signal_snapshots", "editions", "deliveries"} <= tables
    finally:
        Base.metadata.drop_all(database.engine)
        with database.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        database.dispose()
