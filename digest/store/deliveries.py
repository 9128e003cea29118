"""The delivery queue in the database: one row per (subscriber, pool): that subscriber's
edition of the day, claimed by senders.

States: pending -> claimed -> sent | deferred | failed | bounced | skipped, and deferred ->
claimed again when its retry time comes. A claim carries a lease: a row still `claimed`
after `lease_until` belonged to a worker that died and may be claimed again. Claiming uses
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent senders take disjoint batches
without waiting; SQLite serialises writers (BEGIN IMMEDIATE), which gives the same result.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from digest.papers import EditionEntry
from digest.settings import DeliverySettings
from digest.store import leases
from digest.store.db import Database
from digest.store.models import Delivery, DeliveryPaper, DeliveryStatus, Subscriber, SubscriberState


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    subscriber_id: int
    attempts: int  # including this one
    first_attempt_at: datetime


def claimable(now: datetime) -> ColumnElement[bool]:
    """Deliveries a sender may take now (see digest.store.leases)."""
    return leases.claimable(Delivery, DeliveryStatus, now)


def queue_deliveries(
    session: Session, pool_id: int, due: Sequence[tuple[int, datetime]], now: datetime
) -> int:
    """Insert a pending row per (subscriber id, due moment); existing pairs are left alone.

    Returns how many pairs were offered (executemany does not report per-row conflicts).
    """
    if not due:
        return 0
    rows = [
        {
            "subscriber_id": subscriber_id,
            "pool_id": pool_id,
            "status": DeliveryStatus.PENDING.value,
            "claimed_at": now,
            "due_at": due_at,
            "attempts": 0,
        }
        for subscriber_id, due_at in due
    ]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(Delivery).on_conflict_do_nothing(
        index_elements=["subscriber_id", "edition_id"]  # column names: the table predates "pool"
    )
    session.execute(statement, rows)
    return len(rows)


def claim_batch(
    db: Database, pool_id: int, now: datetime, size: int, lease_seconds: int
) -> list[Claim]:
    """Take up to `size` claimable rows of the pool for this sender."""
    rows = leases.claim_rows(
        db,
        Delivery,
        DeliveryStatus,
        now,
        size=size,
        lease_seconds=lease_seconds,
        where=[Delivery.pool_id == pool_id],
        returning=[
            Delivery.id,
            Delivery.subscriber_id,
            Delivery.attempts,
            Delivery.first_attempt_at,
        ],
        claimed_at=now,
    )
    return [Claim(row[0], row[1], row[2], row[3] or now) for row in rows]


class Recorder:
    """Writes one batch's outcomes, one message at a time, over one held connection.

    Each outcome is its own short transaction, committed before the next message is sent,
    so a crash loses at most the mark of the message in flight. On PostgreSQL these
    commits do not wait for the disk flush (synchronous_commit off): a crashed *worker*
    loses nothing by it, and only a crash of the database server itself could forget the
    last fraction of a second of marks (those messages would be sent again).
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"

    @classmethod
    @contextmanager
    def open(cls, db: Database) -> Iterator[Recorder]:
        with db.engine.connect() as connection:
            yield cls(connection)

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self.connection.begin():
            if self.postgres:
                self.connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
            yield self.connection

    def is_active(self, subscriber_id: int) -> bool:
        """Whether the subscriber may still be mailed (checked right before each message)."""
        with self.connection.begin():
            state = self.connection.scalar(
                select(Subscriber.state).where(Subscriber.id == subscriber_id)
            )
        return state == SubscriberState.ACTIVE

    def sent(
        self, delivery_id: int, message_id: str, entries: Sequence[EditionEntry], now: datetime
    ) -> None:
        """Record a message the SMTP server accepted, with the papers it carried."""
        with self._transaction() as connection:
            connection.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(
                    status=DeliveryStatus.SENT,
                    message_id=message_id,
                    error=None,
                    lease_until=None,
                    finished_at=now,
                )
            )
            if entries:
                connection.execute(
                    insert(DeliveryPaper),
                    [
                        {"delivery_id": delivery_id, "paper_id": e.paper_id, "rank": e.rank,
                         "why": e.why}
                        for e in entries
                    ],
                )  # fmt: skip

    def finish(
        self,
        delivery_id: int,
        status: DeliveryStatus,
        now: datetime,
        *,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        with self._transaction() as connection:
            connection.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(
                    status=status,
                    error=error,
                    lease_until=None,
                    next_attempt_at=next_attempt_at,
                    finished_at=None if status is DeliveryStatus.DEFERRED else now,
                )
            )

    def skipped(self, delivery_id: int, reason: str, now: datetime) -> None:
        self.finish(delivery_id, DeliveryStatus.SKIPPED, now, error=reason)

    def failed(self, delivery_id: int, reason: str, now: datetime) -> None:
        self.finish(delivery_id, DeliveryStatus.FAILED, now, error=reason)

    def bounced(self, claim: Claim, reason: str, now: datetime) -> None:
        """A permanent refusal: record it and suppress the address."""
        self.finish(claim.delivery_id, DeliveryStatus.BOUNCED, now, error=reason)
        with self._transaction() as connection:
            connection.execute(
                update(Subscriber)
                .where(
                    Subscriber.id == claim.subscriber_id,
                    Subscriber.state == SubscriberState.ACTIVE,
                )
                .values(state=SubscriberState.BOUNCED)
            )

    def defer_or_give_up(
        self, claim: Claim, reason: str, now: datetime, delivery: DeliverySettings
    ) -> bool:
        """Schedule a retry, or give up once the first attempt is `give_up_hours` old.

        True if deferred.
        """
        retry_at = leases.next_attempt(claim.attempts, claim.first_attempt_at, now, delivery)
        if retry_at is None:
            self.failed(
                claim.delivery_id, f"gave up after {claim.attempts} attempts: {reason}", now
            )
            return False
        self.finish(
            claim.delivery_id, DeliveryStatus.DEFERRED, now, error=reason, next_attempt_at=retry_at
        )
        return True


def pools_with_work(db: Database, now: datetime) -> list[tuple[int, int]]:
    """(pool id, claimable rows) for every pool whose editions a sender could send now."""
    with db.session() as session:
        rows = session.execute(
            select(Delivery.pool_id, func.count())
            .where(claimable(now))
            .group_by(Delivery.pool_id)
            .order_by(Delivery.pool_id)
        ).all()
    return [(pool_id, count) for pool_id, count in rows]
