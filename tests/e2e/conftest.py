"""Fixtures the delivery fault tests share: a migrated PostgreSQL store and an SMTP server
whose answers a test can script."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from digest.store.db import Database
from digest.store.migrate import upgrade
from tests.conftest import reset_schema
from tests.e2e.harness import ControlledSink


@pytest.fixture
def store(postgres_url: str) -> Iterator[Database]:
    """PostgreSQL at the migrations' head, as production runs it."""
    db = Database(postgres_url)
    reset_schema(db)
    upgrade(postgres_url)
    yield db
    reset_schema(db)
    db.dispose()


@pytest.fixture
def sink() -> Iterator[ControlledSink]:
    server = ControlledSink()
    server.start()
    yield server
    server.stop()
