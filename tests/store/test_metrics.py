"""The /metrics exposition, read back with Prometheus' own parser."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.testclient import TestClient

from digest.store.db import Database
from digest.store.metrics import delivery_metrics, render_prometheus
from digest.store.models import Delivery, DeliveryStatus, Pool, SubscriberState
from digest.store.types import utcnow
from digest.web.metrics import metrics_routes
from tests.factories import make_subscriber

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
LAST_EDITION_AT = datetime(2026, 11, 25, 5, 30, tzinfo=UTC)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def fill_store(db: Database, now: datetime = NOW) -> None:
    """Ten delivery rows in every state, and subscribers in four states."""

    def ago(minutes: int) -> datetime:
        return now - timedelta(minutes=minutes)

    later = now + timedelta(minutes=10)
    rows = [
        (DeliveryStatus.PENDING, ago(5), {}),
        (DeliveryStatus.DEFERRED, ago(15), {"next_attempt_at": ago(1)}),  # due for retry
        (DeliveryStatus.DEFERRED, ago(600), {"next_attempt_at": later}),  # waiting
        (DeliveryStatus.CLAIMED, ago(10), {"lease_until": ago(2)}),  # its worker died
        (DeliveryStatus.CLAIMED, ago(120), {"lease_until": later}),  # being sent
        (DeliveryStatus.SENT, ago(300), {"finished_at": ago(290)}),
        (DeliveryStatus.SENT, ago(300), {"finished_at": ago(289)}),
        (DeliveryStatus.FAILED, ago(300), {"finished_at": ago(200)}),
        (DeliveryStatus.BOUNCED, ago(300), {"finished_at": ago(280)}),
        (DeliveryStatus.SKIPPED, ago(300), {"finished_at": ago(280)}),
    ]
    with db.session() as session:
        old = Pool(date=date(2026, 11, 24), created_at=LAST_EDITION_AT - timedelta(days=1))
        new = Pool(date=date(2026, 11, 25), created_at=LAST_EDITION_AT)
        session.add_all([old, new])
        session.flush()
        for status, due_at, extra in rows:
            subscriber = make_subscriber(session)
            session.add(
                Delivery(
                    subscriber_id=subscriber.id,
                    pool_id=new.id,
                    status=status,
                    due_at=due_at,
                    claimed_at=due_at,
                    **extra,
                )
            )
        make_subscriber(session, state=SubscriberState.PENDING)
        make_subscriber(session, state=SubscriberState.BOUNCED)
        make_subscriber(session, state=SubscriberState.BOUNCED)
        make_subscriber(session, state=SubscriberState.COMPLAINED)


def test_exposition_reports_the_queue_and_outcomes(db: Database) -> None:
    fill_store(db)
    with db.session() as session:
        text = render_prometheus(delivery_metrics(session, NOW))

    values = samples(text)
    deliveries = {
        labels[0][1]: value
        for (name, labels), value in values.items()
        if name == "digest_deliveries_total"
    }
    assert deliveries == {
        "pending": 1,
        "claimed": 2,
        "deferred": 2,
        "sent": 2,
        "failed": 1,
        "bounced": 1,
        "skipped": 1,
    }
    assert values[("digest_subscribers", (("state", "active"),))] == 10
    assert values[("digest_subscribers", (("state", "pending"),))] == 1
    assert values[("digest_subscribers", (("state", "bounced"),))] == 2
    assert values[("digest_subscribers", (("state", "complained"),))] == 1
    assert values[("digest_subscribers", (("state", "unsubscribed"),))] == 0
    # Claimable: the pending row, the deferred one due for retry, the expired claim.
    assert values[("digest_queue_depth", ())] == 3
    assert values[("digest_queue_lag_seconds", ())] == 15 * 60
    assert values[("digest_last_edition_timestamp_seconds", ())] == LAST_EDITION_AT.timestamp()
    assert "# TYPE digest_queue_lag_seconds gauge" in text


def test_an_empty_store_reports_zeros(db: Database) -> None:
    with db.session() as session:
        values = samples(render_prometheus(delivery_metrics(session, NOW)))

    assert values[("digest_queue_lag_seconds", ())] == 0
    assert values[("digest_queue_depth", ())] == 0
    assert values[("digest_last_edition_timestamp_seconds", ())] == 0
    assert values[("digest_deliveries_total", (("status", "sent"),))] == 0
    assert len([key for key in values if key[0] == "digest_deliveries_total"]) == 7


def test_metrics_route_serves_the_text_format(sqlite_db: Database) -> None:
    fill_store(sqlite_db, utcnow())
    with TestClient(Starlette(routes=metrics_routes(sqlite_db))) as http:
        answer = http.get("/metrics")
        refused = http.post("/metrics")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    values = samples(answer.text)
    assert values[("digest_deliveries_total", (("status", "sent"),))] == 2
    assert values[("digest_queue_depth", ())] == 3
    assert 15 * 60 <= values[("digest_queue_lag_seconds", ())] < 16 * 60
    assert refused.status_code == 405


def test_the_outbox_of_subscriber_emails_is_reported_by_status(db: Database) -> None:
    from digest.store.subscribers import request_subscription

    with db.session() as session:
        for address in ("a@example.org", "b@example.org"):
            request_subscription(session, address, now=NOW)
        request_subscription(session, "a@example.org", now=NOW)  # already queued: no second
    with db.session() as session:
        text = render_prometheus(delivery_metrics(session, NOW))

    found = samples(text)
    assert found[("digest_outbox_emails", (("status", "pending"),))] == 2
    assert found[("digest_outbox_emails", (("status", "failed"),))] == 0
