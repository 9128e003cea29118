"""Web fixtures: the app over a store (SQLite and PostgreSQL) with a recording dispatcher."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.web import create_app
from tests.conftest import REDIS_URL

Sent = tuple[str, int]


@pytest.fixture
def settings(settings: Settings) -> Iterator[Settings]:
    """The shared settings with rate limits in the test Redis under a key prefix of their own."""
    queue = f"test-web-{uuid.uuid4().hex[:12]}"
    yield settings.model_copy(update={"redis_url": REDIS_URL, "task_queue": queue})
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"digest:{queue}:*"))
    if keys:
        client.delete(*keys)
    client.close()


class Recorder(list[Sent]):
    """A dispatcher that remembers what it was asked to send, in order."""

    def __call__(self, kind: str, subscriber_id: int) -> None:
        self.append((kind, subscriber_id))


@pytest.fixture
def enqueued() -> Recorder:
    """Emails (kind, subscriber id) the app asked to send, in order."""
    return Recorder()


@pytest.fixture
def client(db: Database, settings: Settings, enqueued: Recorder) -> Iterator[TestClient]:
    """The app over the store, on both backends."""
    with TestClient(create_app(settings, db, enqueued)) as test_client:
        yield test_client


@pytest.fixture
def sqlite_client(
    sqlite_db: Database, settings: Settings, enqueued: Recorder
) -> Iterator[TestClient]:
    """The app over SQLite only, for tests that are not about the database backend."""
    with TestClient(create_app(settings, sqlite_db, enqueued)) as test_client:
        yield test_client
