"""Web fixtures: the app over a store (SQLite and PostgreSQL) whose outbox kick sends right
away to the test SMTP server and records what went out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from starlette.testclient import TestClient

from digest.pipeline.notices import Kick, send_outbox
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
    """The emails (kind, subscriber id) the outbox sent, in order."""

    def kick_for(self, db: Database, settings: Settings) -> Kick:
        """An app's kick: send the outbox now, in the request's thread, and note what left."""

        def kick() -> None:
            self.extend(send_outbox(db, settings).sent)

        return kick


@pytest.fixture
def enqueued() -> Recorder:
    """Emails (kind, subscriber id) the app's requests sent, in order."""
    return Recorder()


@pytest.fixture
def client(db: Database, settings: Settings, enqueued: Recorder) -> Iterator[TestClient]:
    """The app over the store, on both backends."""
    with TestClient(create_app(settings, db, enqueued.kick_for(db, settings))) as test_client:
        yield test_client


@pytest.fixture
def sqlite_client(
    sqlite_db: Database, settings: Settings, enqueued: Recorder
) -> Iterator[TestClient]:
    """The app over SQLite only, for tests that are not about the database backend."""
    with TestClient(
        create_app(settings, sqlite_db, enqueued.kick_for(sqlite_db, settings))
    ) as test_client:
        yield test_client
