"""POST /webhooks/bounces over real HTTP: a provider event with a message id is matched
against the mail we sent, as a Maildir report is; one without relies on the secret."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Delivery, DeliveryStatus, Subscriber, SubscriberState
from digest.web.webhooks import webhook_routes
from tests.conftest import SmtpSink, serve_in_thread
from tests.mail.reports import send_edition

SECRET = "webhook-secret-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {SECRET}"}
READERS = [
    "gone@example.com",
    "angry@example.com",
    "victim@example.com",
    "other@example.com",
    "plain@example.com",
]


def states(db: Database) -> dict[str, SubscriberState]:
    with db.session() as session:
        rows = session.execute(select(Subscriber.email, Subscriber.state))
        return {email: state for email, state in rows}


def test_webhook_events_with_message_ids_are_matched_to_sent_mail(
    db: Database, settings: Settings, database_url: str, smtp_sink: SmtpSink
) -> None:
    hooked = settings.model_copy(update={"database_url": database_url, "webhook_secret": SECRET})
    sent = send_edition(db, hooked, smtp_sink, READERS)
    events = [
        {
            "type": "bounce",
            "email": "gone@example.com",
            "message_id": sent["gone@example.com"].message_id,
        },
        # Another spelling of the key, and the id without its angle brackets.
        {
            "type": "complaint",
            "email": "angry@example.com",
            "Message-ID": sent["angry@example.com"].message_id.strip("<>"),
        },
        # Someone else's genuine id, and one made up: not ours for these addresses.
        {
            "type": "bounce",
            "email": "victim@example.com",
            "messageId": sent["other@example.com"].message_id,
        },
        {
            "type": "complaint",
            "email": "other@example.com",
            "message-id": "<digest.2026-11-25.4.0123456789abcdef@example.org>",
        },
        {"type": "bounce", "email": "victim@example.com", "message_id": 12345},
        # No id at all: applied on the secret, as before.
        {"type": "bounce", "email": "plain@example.com"},
    ]

    app = Starlette(routes=webhook_routes(hooked, db))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        refused = http.post("/webhooks/bounces", json={"events": events})
        answer = http.post("/webhooks/bounces", json={"events": events}, headers=AUTH)

    assert refused.status_code == 401
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "messages": 0,
        "bounced": 2,
        "complained": 1,
        "already": 0,
        "unknown": 0,
        "unmatched": 3,
        "invalid": 0,
        "ignored": 0,
        "unreadable": 0,
    }
    assert states(db) == {
        "gone@example.com": SubscriberState.BOUNCED,
        "angry@example.com": SubscriberState.COMPLAINED,
        "victim@example.com": SubscriberState.ACTIVE,
        "other@example.com": SubscriberState.ACTIVE,
        "plain@example.com": SubscriberState.BOUNCED,
    }
    with db.session() as session:
        bounced_copy = session.scalars(
            select(Delivery.status).where(
                Delivery.message_id == sent["gone@example.com"].message_id
            )
        ).one()
    assert bounced_copy is DeliveryStatus.BOUNCED
