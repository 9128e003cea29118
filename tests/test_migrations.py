from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from digest.store.db import Database
from digest.store.migrate import upgrade
from digest.store.models import Base
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
        assert {"subscribers", "papers", "signal_snapshots", "editions", "deliveries"} <= tables
    finally:
        reset_schema(database)
        database.dispose()
