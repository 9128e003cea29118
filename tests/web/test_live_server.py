"""The app behind a real uvicorn server, driven over HTTP with httpx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from digest.pipeline.emails import CONFIRMATION_EMAIL
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.tokens import Purpose
from digest.web import create_app
from tests.conftest import serve_in_thread
from tests.web.conftest import Recorder
from tests.web.support import subscriber, token


@pytest.fixture
def live_url(sqlite_db: Database, settings: Settings, enqueued: Recorder) -> Iterator[str]:
    with serve_in_thread(
        create_app(settings, sqlite_db, enqueued.kick_for(sqlite_db, settings))
    ) as url:
        yield url


def test_subscribe_then_one_click_unsubscribe_over_http(
    live_url: str, sqlite_db: Database, settings: Settings, enqueued: Recorder
) -> None:
    with httpx.Client(base_url=live_url, timeout=10) as http:
        landing = http.get("/")
        subscribed = http.post(
            "/subscribe", data={"email": "live@example.com", "timezone": "Europe/Berlin"}
        )
        row = subscriber(sqlite_db, "live@example.com")
        one_click = http.post(
            "/unsubscribe",
            params={"token": token(settings, Purpose.UNSUBSCRIBE, row)},
            data={"List-Unsubscribe": "One-Click"},
        )
        too_big = http.post("/subscribe", data={"email": "x@example.com", "topics": "x" * 20000})

    assert landing.status_code == 200
    assert landing.headers["referrer-policy"] == "no-referrer"
    assert subscribed.status_code == 200
    assert "Check your inbox" in subscribed.text
    assert enqueued == [(CONFIRMATION_EMAIL, row.id)]
    assert row.timezone == "Europe/Berlin"
    assert one_click.status_code == 200
    assert one_click.text == "You are unsubscribed.\n"
    assert subscriber(sqlite_db, "live@example.com").state is SubscriberState.UNSUBSCRIBED
    assert too_big.status_code == 413
