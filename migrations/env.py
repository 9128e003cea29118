"""Alembic environment: the URL comes from the caller or from DIGEST_DATABASE_URL."""

from __future__ import annotations

from alembic import context

from digest.settings import get_settings
from digest.store.db import make_engine
from digest.store.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
engine = make_engine(url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
