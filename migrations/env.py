"""Alembic environment: the URL comes from the caller or from DIGEST_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from digest.settings import get_settings
from digest.store.db import make_engine
from digest.store.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
engine = make_engine(url)


def check_foreign_keys(connection: Connection) -> None:
    """Refuse to commit a SQLite migration that left a row pointing nowhere."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration left rows with broken foreign keys: {broken[:5]}")


with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite's way to rebuild a table (https://sqlite.org/lang_altertable.html#otheralter):
        # with foreign keys on, dropping the old table in batch mode would cascade, e.g. from
        # `subscribers` to every delivery. The pragma is a no-op inside a transaction, so it
        # is set on the driver's connection before one begins; the engine ends with the run.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            check_foreign_keys(connection)
engine.dispose()
