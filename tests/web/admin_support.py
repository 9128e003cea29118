"""A store with something on every panel of the dashboard, and the operator's credential."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import (
    Delivery,
    DeliveryStatus,
    FetchRun,
    OutboxEmail,
    OutboxStatus,
    Pool,
    Subscriber,
    SubscriberState,
)
from digest.store.types import utcnow
from digest.web.admin_password import hash_password

ADMIN_USER = "operator"
ADMIN_PASSWORD = "correct horse battery staple"
ADMIN_HASH = hash_password(ADMIN_PASSWORD).line()
ACTIVE_ADDRESS = "ada.reader@example.org"
BOUNCED_ADDRESS = "gone.away@example.net"
STALE_ADDRESS = "stale.claim@example.org"
FETCH_ERROR = "HTTP 503 from hf.invalid after 3 tries"


def with_admin(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "admin_user": ADMIN_USER,
            "admin_password_hash": ADMIN_HASH,
            "admin_attempts_per_client": 3,
        }
    )


def basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


OPERATOR = basic(ADMIN_USER, ADMIN_PASSWORD)


def fill_store(db: Database, now: datetime | None = None) -> int:
    """Subscribers over a week, an edition sent over three minutes with one bounce and one
    stale claim, an outbox, and fetch runs (one failed); returns the stale row's id."""
    now = now or utcnow()
    day = now.date() - timedelta(days=1)
    with db.session() as session:
        readers = []
        for i, address in enumerate([ACTIVE_ADDRESS, "bob@example.org", "cy@example.org"]):
            joined = now - timedelta(days=6 - i)
            readers.append(
                Subscriber(
                    email=address,
                    state=SubscriberState.ACTIVE,
                    created_at=joined,
                    confirmed_at=joined + timedelta(hours=1),
                )
            )
        bounced = Subscriber(
            email=BOUNCED_ADDRESS,
            state=SubscriberState.BOUNCED,
            created_at=now - timedelta(days=5),
            confirmed_at=now - timedelta(days=5),
            updated_at=now - timedelta(hours=2),
        )
        stale = Subscriber(
            email=STALE_ADDRESS, state=SubscriberState.ACTIVE, created_at=now - timedelta(days=4)
        )
        pending = Subscriber(email="new@example.org", state=SubscriberState.PENDING)
        session.add_all([*readers, bounced, stale, pending])
        pool = Pool(date=day, created_at=now - timedelta(hours=20))
        session.add(pool)
        session.flush()
        start = now - timedelta(hours=3)
        for minute, reader in enumerate(readers):
            session.add(
                Delivery(
                    subscriber_id=reader.id,
                    pool_id=pool.id,
                    status=DeliveryStatus.SENT,
                    claimed_at=start,
                    first_attempt_at=start,
                    finished_at=start + timedelta(minutes=minute, seconds=5),
                )
            )
        session.add(
            Delivery(
                subscriber_id=bounced.id,
                pool_id=pool.id,
                status=DeliveryStatus.BOUNCED,
                error="550 5.1.1 mailbox unknown",
                claimed_at=start,
                finished_at=start + timedelta(minutes=2),
            )
        )
        stale_row = Delivery(
            subscriber_id=stale.id,
            pool_id=pool.id,
            status=DeliveryStatus.CLAIMED,
            claimed_at=start,
            lease_until=now - timedelta(hours=1),
        )
        session.add(stale_row)
        session.add(
            OutboxEmail(
                kind="confirmation",
                subscriber_id=pending.id,
                status=OutboxStatus.DEFERRED,
                attempts=2,
                error="SMTP 451 try later",
            )
        )
        session.add_all(
            [
                FetchRun(
                    source="hf",
                    window_start=day,
                    window_end=day,
                    started_at=now - timedelta(hours=5),
                    finished_at=now - timedelta(hours=5),
                    seen=40,
                    new=12,
                ),
                FetchRun(
                    source="hf",
                    window_start=day,
                    window_end=day,
                    started_at=now - timedelta(hours=1),
                    finished_at=now - timedelta(hours=1),
                    error=FETCH_ERROR,
                ),
                FetchRun(
                    source="arxiv",
                    window_start=day,
                    window_end=day,
                    started_at=now - timedelta(hours=2),
                    finished_at=now - timedelta(hours=2),
                    seen=200,
                    new=150,
                ),
            ]
        )
        session.flush()
        return stale_row.id


def delivery_status(db: Database, delivery_id: int) -> DeliveryStatus:
    with db.session() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        return row.status
