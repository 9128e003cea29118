"""GET /healthz, and pages when the database cannot be reached."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.web import create_app
from tests.web.conftest import Recorder

UNREACHABLE = "postgresql+psycopg://u@127.0.0.1:1/x"


@pytest.fixture
def unreachable_client(settings: Settings, enqueued: Recorder) -> Iterator[TestClient]:
    database = Database(UNREACHABLE)
    with TestClient(
        create_app(settings, database, enqueued.kick_for(database, settings))
    ) as test_client:
        yield test_client
    database.dispose()


def test_healthz_ok(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_503_when_database_unreachable(unreachable_client: TestClient) -> None:
    response = unreachable_client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["reason"] == "database unreachable"
    assert "127.0.0.1" not in response.text  # connection details stay in the log


def test_pages_answer_503_when_database_unreachable(
    unreachable_client: TestClient, enqueued: Recorder
) -> None:
    landing = unreachable_client.get("/")
    subscribe = unreachable_client.post("/subscribe", data={"email": "a@example.com"})

    assert landing.status_code == 503
    assert subscribe.status_code == 503
    assert "try again in a few minutes" in subscribe.text
    assert enqueued == []
