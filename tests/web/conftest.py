"""Web fixtures: the app over a store (SQLite and PostgreSQL) with a recording enqueuer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.web import create_app


@pytest.fixture
def enqueued() -> list[int]:
    """Subscriber ids the app asked to send a confirmation to, in order."""
    return []


@pytest.fixture
def client(db: Database, settings: Settings, enqueued: list[int]) -> Iterator[TestClient]:
    """The app over the store, on both backends."""
    with TestClient(create_app(settings, db, enqueued.append)) as test_client:
        yield test_client


@pytest.fixture
def sqlite_client(
    sqlite_db: Database, settings: Settings, enqueued: list[int]
) -> Iterator[TestClient]:
    """The app over SQLite only, for tests that are not about the database backend."""
    with TestClient(create_app(settings, sqlite_db, enqueued.append)) as test_client:
        yield test_client
