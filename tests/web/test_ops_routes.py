"""The operator routes are mounted in the real app: /metrics and the bounce webhook."""

from __future__ import annotations

from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.web import create_app
from tests.web.conftest import Recorder
from tests.web.support import add, subscriber

SECRET = "webhook-secret-0123456789"


def test_metrics_are_served_by_the_app(sqlite_client: TestClient, sqlite_db: Database) -> None:
    add(sqlite_db, "reader@example.com", SubscriberState.ACTIVE)
    response = sqlite_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'digest_subscribers{state="active"} 1.0' in response.text
    assert "digest_queue_lag_seconds" in response.text


def test_the_bounce_webhook_is_mounted_and_guarded(
    sqlite_db: Database, settings: Settings, enqueued: Recorder
) -> None:
    add(sqlite_db, "gone@example.com", SubscriberState.ACTIVE)
    app = create_app(
        settings.model_copy(update={"webhook_secret": SECRET}),
        sqlite_db,
        enqueued.kick_for(sqlite_db, settings),
    )
    with TestClient(app) as client:
        event = {"type": "bounce", "email": "gone@example.com"}
        refused = client.post(
            "/webhooks/bounces", json=event, headers={"Authorization": "Bearer wrong-secret-000000"}
        )
        assert refused.status_code == 401
        assert subscriber(sqlite_db, "gone@example.com").state is SubscriberState.ACTIVE
        accepted = client.post(
            "/webhooks/bounces", json=event, headers={"Authorization": f"Bearer {SECRET}"}
        )
        assert accepted.status_code == 200
    assert subscriber(sqlite_db, "gone@example.com").state is SubscriberState.BOUNCED
