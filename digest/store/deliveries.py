"""The delivery queue in the database: one row per (subscriber, pool): that subscriber's
edition of the day, claimed by senders.

States: pending -> claimed -> sent | deferred | failed | bounced | skipped, and deferred ->
claimed again when its retry time comes. A claim carries a lease: a row still `claimed`
after `lease_until` belonged to a worker that died and may be claimed again. Claiming uses
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent senders take disjoint batches
without waiting; SQLite serialises writers (BEGIN IMMEDIATE), which gives the same result.
The send engine (digest.pipeline.engine) drives the queue through `DeliveryQueue` and
`DeliveryRecorder`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from digest.errors import DigestError
from digest.store import leases
from digest.store.bounces import bounced_while_sending
from digest.store.db import Database, connection_lost, through_outages
from digest.store.journal import SendJournal, SentMark, write_sent
from digest.store.models import Delivery, DeliveryStatus, Subscriber, SubscriberState

T = TypeVar("T")


@dataclass(frozen=True)
class Claim:
    row_id: int  # the delivery's id
    subscriber_id: int
    attempts: int  # including this one
    first_attempt_at: datetime
    token: str  # the batch's claim: outcomes and sends need the row to still carry it


def claimable(now: datetime) -> ColumnElement[bool]:
    """Deliveries a sender may take now (see digest.store.leases)."""
    return leases.claimable(Delivery, DeliveryStatus, now)


def queue_deliveries(
    session: Session, pool_id: int, due: Sequence[tuple[int, datetime]], now: datetime
) -> int:
    """Insert a pending row per (subscriber id, due moment); existing pairs are left alone.

    Returns how many rows were inserted on PostgreSQL (one statement for the whole page),
    how many pairs were offered on SQLite (executemany does not report per-row conflicts).
    """
    if not due:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        inserted = session.execute(
            QUEUE_PAGE,
            {"pool_id": pool_id, "pending": DeliveryStatus.PENDING.value, "now": now,
             "subscriber_ids": [subscriber_id for subscriber_id, _ in due],
             "due_at": [due_at for _, due_at in due]},
        )  # fmt: skip
        return len(inserted.all())
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
    statement = sqlite.insert(Delivery).on_conflict_do_nothing(
        index_elements=["subscriber_id", "pool_id"]
    )
    session.execute(statement, rows)
    return len(rows)


QUEUE_PAGE = text("""
INSERT INTO deliveries (subscriber_id, pool_id, status, claimed_at, due_at, attempts,
                        uncertain)
SELECT d.subscriber_id, :pool_id, :pending, :now, d.due_at, 0, 0
FROM unnest(CAST(:subscriber_ids AS bigint[]), CAST(:due_at AS timestamptz[]))
     AS d(subscriber_id, due_at)
ON CONFLICT (subscriber_id, pool_id) DO NOTHING
RETURNING id
""")


def claim_batch(
    db: Database, pool_id: int, now: datetime, size: int, lease_seconds: int
) -> list[Claim]:
    """Take up to `size` claimable rows of the pool for this sender, leased until `now` (the
    clock at this claim, never a run's start) plus `lease_seconds`, under a fresh token.

    A row whose sender died with its message in flight (handed to the SMTP server, outcome
    not recorded) is counted as uncertain first: it is sent again, with the same
    Message-ID, and `digest stats` shows how many such rows there were.
    """
    with db.session() as session:
        session.execute(
            update(Delivery)
            .where(
                Delivery.pool_id == pool_id,
                Delivery.status == DeliveryStatus.CLAIMED,
                Delivery.lease_until < now,
                Delivery.in_flight_since.is_not(None),
            )
            .values(uncertain=Delivery.uncertain + 1, in_flight_since=None)
            .execution_options(synchronize_session=False)
        )
    token, rows = leases.claim_rows(
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
        in_flight_since=None,
    )
    return [Claim(row[0], row[1], row[2], row[3] or now, token) for row in rows]


class DeliveryQueue:
    """One pool's deliveries as the send engine (digest.pipeline.engine) drives them."""

    def __init__(self, db: Database, pool_id: int, journal: SendJournal) -> None:
        self.db, self.pool_id, self.journal = db, pool_id, journal

    def settle_journal(self) -> None:
        """Write the marks a database outage left in this machine's journal."""
        self.journal.replay(self.db)

    def claim(self, now: datetime, size: int, lease_seconds: int) -> list[Claim]:
        return claim_batch(self.db, self.pool_id, now, size, lease_seconds)

    def recorder(self) -> contextlib.AbstractContextManager[DeliveryRecorder]:
        return DeliveryRecorder.open(self.db, self.journal)


# `write_sent` for the rows of one window and the in-flight mark of the next, as one
# PostgreSQL statement: one round trip a window instead of two a message.
SETTLE_AND_BEGIN = text("""
WITH marked AS (
    UPDATE deliveries
    SET status = :sent, message_id = m.message_id, error = NULL, lease_until = NULL,
        in_flight_since = NULL, finished_at = m.finished_at
    FROM unnest(CAST(:ids AS bigint[]), CAST(:message_ids AS text[]),
                CAST(:finished_at AS timestamptz[])) AS m(id, message_id, finished_at)
    WHERE deliveries.id = m.id AND deliveries.status <> :sent
    RETURNING deliveries.id
), papers AS (
    INSERT INTO delivery_papers (delivery_id, paper_id, rank, why)
    SELECT p.delivery_id, p.paper_id, p.rank, p.why
    FROM unnest(CAST(:paper_rows AS bigint[]), CAST(:paper_ids AS bigint[]),
                CAST(:ranks AS integer[]), CAST(:whys AS text[]))
         AS p(delivery_id, paper_id, rank, why)
    JOIN marked ON marked.id = p.delivery_id
), flight AS (
    -- Only rows whose claim is still this sender's: a row another sender took over after
    -- this one's lease ran out carries that sender's token.
    -- A lookup per row, whatever the statistics say: as a join, a stale estimate of the
    -- active subscribers made each window scan them, slower as the edition went on.
    UPDATE deliveries SET in_flight_since = :now
    FROM unnest(CAST(:next_ids AS bigint[]), CAST(:next_tokens AS text[])) AS f(id, token)
    WHERE deliveries.id = f.id AND deliveries.claim_token = f.token
      AND deliveries.status = :claimed
      AND (SELECT subscribers.state FROM subscribers
           WHERE subscribers.id = deliveries.subscriber_id) = :active
    RETURNING deliveries.id
)
SELECT id FROM flight
""")


class DatabaseLost(DigestError):
    """The database stayed unreachable while a sender recorded an outcome: it stops."""


class DeliveryRecorder:
    """Writes one batch's outcomes, one message at a time, over one held connection.

    Each outcome is its own short transaction, committed before the next message is sent,
    so a crash loses at most the mark of the message in flight. A dropped connection is
    replaced and the write tried again for up to `retry_seconds` (every write is idempotent,
    so a commit whose answer was lost is harmless to repeat). If the database stays away,
    the mark of a message the server accepted goes to the local send journal and the sender
    stops. On PostgreSQL these commits do not wait for the disk flush (synchronous_commit
    off): a crashed *worker* loses nothing by it, and only a crash of the database server
    itself could forget the last fraction of a second of marks.
    """

    def __init__(
        self, db: Database, journal: SendJournal | None = None, retry_seconds: float = 30.0
    ) -> None:
        self.db = db
        self.journal = journal
        self.retry_seconds = retry_seconds
        self.postgres = db.engine.dialect.name == "postgresql"
        self.connection: Connection | None = None

    @classmethod
    @contextmanager
    def open(
        cls, db: Database, journal: SendJournal | None = None, retry_seconds: float = 30.0
    ) -> Iterator[DeliveryRecorder]:
        recorder = cls(db, journal, retry_seconds)
        try:
            yield recorder
        finally:
            recorder.close()

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(DBAPIError):
                self.connection.close()
            self.connection = None

    def _write(self, work: Callable[[Connection], T], *, one_statement: bool = False) -> T:
        """Run `work` in a transaction of its own, through dropped connections."""
        return through_outages(
            lambda: self._transaction(work, one_statement),
            seconds=self.retry_seconds,
            reconnect=self.close,
        )

    def _connect(self) -> Connection:
        if self.connection is None:
            connection = self.db.engine.connect()
            if self.postgres:
                # Autocommit, so one statement is one round trip (no BEGIN and COMMIT
                # around it), and no waiting for the disk flush (see the class docstring).
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                connection.exec_driver_sql("SET synchronous_commit = off")
            self.connection = connection
        return self.connection

    def _transaction(self, work: Callable[[Connection], T], one_statement: bool) -> T:
        connection = self._connect()
        if not self.postgres:
            with connection.begin():
                return work(connection)
        if one_statement:
            return work(connection)  # a single statement is atomic on its own
        connection.exec_driver_sql("BEGIN")
        try:
            result = work(connection)
        except BaseException:
            with contextlib.suppress(DBAPIError):
                connection.exec_driver_sql("ROLLBACK")
            raise
        connection.exec_driver_sql("COMMIT")
        return result

    def settle_and_begin(
        self, marks: Sequence[SentMark], following: Sequence[Claim], now: datetime
    ) -> set[int]:
        """Write the sent marks of the messages the server accepted, and note `following`
        in flight, in one transaction (one statement on PostgreSQL); the delivery ids of
        `following` that may be sent: still under this sender's claim, their subscriber
        still active. Idempotent.

        Every mark is written before the next messages go out, so what may be in flight
        unrecorded is at most the messages of one window. A sent mark is written whoever
        holds the row now: it records what the server accepted, and stops a sender that
        took the row over from sending it again. If the database stays unreachable the
        marks go to the journal and DatabaseLost is raised.
        """
        next_ids = [claim.row_id for claim in following]
        if not marks and not next_ids:
            return set()

        def work(connection: Connection) -> set[int]:
            if self.postgres:
                papers = [(m.delivery_id, *paper) for m in marks for paper in m.papers]
                columns = list(zip(*papers, strict=True)) or [(), (), (), ()]
                rows = connection.execute(
                    SETTLE_AND_BEGIN,
                    {"sent": DeliveryStatus.SENT.value,
                     "finished_at": [datetime.fromisoformat(m.finished_at) for m in marks],
                     "ids": [m.delivery_id for m in marks],
                     "message_ids": [m.message_id for m in marks],
                     "paper_rows": list(columns[0]), "paper_ids": list(columns[1]),
                     "ranks": list(columns[2]), "whys": list(columns[3]),
                     "now": now, "next_ids": next_ids,
                     "next_tokens": [claim.token for claim in following],
                     "claimed": DeliveryStatus.CLAIMED.value,
                     "active": SubscriberState.ACTIVE.value},
                )  # fmt: skip
                return {int(row[0]) for row in rows}
            for mark in marks:
                write_sent(connection, mark)
            if not next_ids:
                return set()
            active = select(Subscriber.id).where(Subscriber.state == SubscriberState.ACTIVE)
            rows = connection.execute(
                update(Delivery)
                .where(_still_held(following), Delivery.subscriber_id.in_(active))
                .values(in_flight_since=now)
                .returning(Delivery.id)
            )
            return {int(row[0]) for row in rows}

        return self._write_marks(marks, work, one_statement=self.postgres)

    def _write_marks(
        self,
        marks: Sequence[SentMark],
        work: Callable[[Connection], T],
        *,
        one_statement: bool = False,
    ) -> T:
        """Write sent marks; if the database stays away, keep them in the journal and stop."""
        try:
            return self._write(work, one_statement=one_statement)
        except DBAPIError as exc:
            if self.journal is None or not connection_lost(exc) or not marks:
                raise
            for mark in marks:
                self.journal.append(mark)
            raise DatabaseLost(
                f"the database stayed unreachable for {self.retry_seconds:.0f} s; the marks "
                f"of the last messages are kept in {self.journal.path} and written at the "
                "next send"
            ) from None

    def renew(self, token: str, now: datetime, lease_seconds: int) -> datetime:
        """Extend the lease of every row still held under `token` to `now` + `lease_seconds`
        (a live sender does this long before its lease ends); the new end of the lease."""
        until = now + timedelta(seconds=lease_seconds)
        statement = leases.renewal(Delivery, DeliveryStatus, token, until)
        self._write(lambda c: c.execute(statement), one_statement=True)
        return until

    def finish(
        self,
        claim: Claim,
        status: DeliveryStatus,
        now: datetime,
        *,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """Record the row's outcome, if its claim is still this sender's; False if another
        sender took the row over (its outcome is then that sender's to write)."""
        statement = (
            update(Delivery)
            .where(_still_held([claim]))
            .values(
                status=status,
                error=error,
                lease_until=None,
                in_flight_since=None,
                next_attempt_at=next_attempt_at,
                finished_at=None if status is DeliveryStatus.DEFERRED else now,
            )
        )
        return bool(self._write(lambda c: c.execute(statement).rowcount == 1, one_statement=True))

    def skipped(self, claim: Claim, reason: str, now: datetime) -> bool:
        return self.finish(claim, DeliveryStatus.SKIPPED, now, error=reason)

    def failed(self, claim: Claim, reason: str, now: datetime) -> bool:
        return self.finish(claim, DeliveryStatus.FAILED, now, error=reason)

    def bounced(self, claim: Claim, reason: str, now: datetime) -> None:
        """A permanent refusal of the address: record it, and suppress the address exactly
        as a refused notice or a bounce report does (whichever sender holds the row now:
        the refusal is about the address)."""
        self.finish(claim, DeliveryStatus.BOUNCED, now, error=reason)

        def suppress() -> None:
            with self.db.session() as session:
                bounced_while_sending(session, claim.subscriber_id, reason, now)

        through_outages(suppress, seconds=self.retry_seconds)

    def deferred(self, claim: Claim, reason: str, now: datetime, retry_at: datetime) -> bool:
        """Leave the row for a retry at `retry_at`."""
        return self.finish(
            claim, DeliveryStatus.DEFERRED, now, error=reason, next_attempt_at=retry_at
        )


def _still_held(claims: Sequence[Claim]) -> ColumnElement[bool]:
    return leases.still_held(Delivery, DeliveryStatus, claims)


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


@dataclass(frozen=True)
class HeldRows:
    """Rows a sender holds: `live` ones until their lease runs out, at `claimable_at` for
    the last of them; `expired` ones belonged to a sender that stopped, claimable now."""

    live: int = 0
    claimable_at: datetime | None = None
    expired: int = 0


def held_rows(db: Database, now: datetime) -> HeldRows:
    with db.session() as session:
        live, until = session.execute(
            select(func.count(), func.max(Delivery.lease_until)).where(
                Delivery.status == DeliveryStatus.CLAIMED, Delivery.lease_until >= now
            )
        ).one()
        expired = session.scalar(
            select(func.count()).where(
                Delivery.status == DeliveryStatus.CLAIMED, Delivery.lease_until < now
            )
        )
    return HeldRows(int(live), until, int(expired or 0))


@dataclass(frozen=True)
class ReleasedRows:
    """Rows given back to the queue; `in_flight` of them had a message handed to the SMTP
    server, so they were counted as uncertain."""

    rows: int = 0
    in_flight: int = 0


def release_expired_claims(db: Database, now: datetime, pool_id: int | None = None) -> ReleasedRows:
    """Put every row whose sender's lease ran out before `now` back to pending (one pool's
    only, with `pool_id`); a live sender's rows are never touched.

    A row that was in flight is counted as uncertain first, as `claim_batch` does, so its
    re-send carries the same Message-ID.
    """
    expired = [Delivery.status == DeliveryStatus.CLAIMED, Delivery.lease_until < now]
    if pool_id is not None:
        expired.append(Delivery.pool_id == pool_id)
    with db.session() as session:
        # Both statements repeat the lease test, so a row a sender claims between them (a
        # fresh lease) is left to it.
        in_flight = session.execute(
            update(Delivery)
            .where(*expired, Delivery.in_flight_since.is_not(None))
            .values(uncertain=Delivery.uncertain + 1, in_flight_since=None)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        ).all()
        released = session.execute(
            update(Delivery)
            .where(*expired)
            .values(status=DeliveryStatus.PENDING, lease_until=None, in_flight_since=None)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        ).all()
    return ReleasedRows(len(released), len(in_flight))


def uncertain_rows(db: Database) -> int:
    """Rows whose message was in flight when its sender died: sent again with the same
    Message-ID, so the subscriber may hold two copies (most mail systems show one)."""
    with db.session() as session:
        return int(session.scalar(select(func.count()).where(Delivery.uncertain > 0)) or 0)
