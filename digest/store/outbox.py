"""The outbox: subscriber emails queued in the transaction that asks for them, then claimed
by a sender with a lease and a token, like deliveries, and sent by the send engine
(digest.pipeline.engine) through `OutboxQueue` and `OutboxRecorder`.

States: pending -> claimed -> sent | bounced | skipped | deferred | failed, deferred ->
claimed again when its retry time comes, and sent -> bounced when a report tied to it
comes back; a claim whose lease ran out (its sender died) may be
claimed again. While a row is unsent its `queue_key` holds one slot per (kind, address or
subscriber), so asking twice queues one email.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Update, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.store import leases
from digest.store.bounces import bounced_while_sending
from digest.store.db import Database, through_outages
from digest.store.models import OutboxEmail, OutboxStatus, Subscriber

T = TypeVar("T")
SUBSCRIBE_REQUEST = "subscribe"  # a request from the form; the sender decides what it becomes


@dataclass(frozen=True)
class OutboxClaim:
    row_id: int
    kind: str
    subscriber_id: int | None  # for a request, None until the sender resolves it
    email: str | None
    request: Mapping[str, Any]
    attempts: int  # including this one
    first_attempt_at: datetime
    token: str  # the batch's claim: outcomes and sends need the row to still carry it


@dataclass(frozen=True)
class SentNotice:
    """The mark of one email the SMTP server accepted."""

    claim: OutboxClaim  # with the subscriber it went to
    kind: str  # the email it was (a request's row becomes a confirmation, say)
    message_id: str
    rated: bool  # sets the address's shared clock (`Subscriber.confirmation_sent_at`)
    finished_at: datetime


def queue_email(
    session: Session,
    kind: str,
    now: datetime,
    *,
    subscriber_id: int | None = None,
    email: str | None = None,
    request: Mapping[str, Any] | None = None,
) -> None:
    """Queue one email of `kind` for a subscriber (or, for a request, an address).

    The same statement runs whatever is already queued: a second request while one is
    waiting changes nothing.
    """
    if (subscriber_id is None) == (email is None):
        raise ValueError("an outbox email is for a subscriber or for an address")
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(OutboxEmail).on_conflict_do_nothing(index_elements=["queue_key"])
    session.execute(
        statement,
        {
            "kind": kind,
            "subscriber_id": subscriber_id,
            "email": email,
            "request": dict(request or {}),
            "queue_key": f"{kind}:{subscriber_id if email is None else email}",
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "created_at": now,
        },
    )


def claim_outbox(db: Database, now: datetime, size: int, lease_seconds: int) -> list[OutboxClaim]:
    """Take up to `size` rows due now for this sender, oldest first, under a fresh token."""
    token, rows = leases.claim_rows(
        db,
        OutboxEmail,
        OutboxStatus,
        now,
        size=size,
        lease_seconds=lease_seconds,
        returning=[
            OutboxEmail.id,
            OutboxEmail.kind,
            OutboxEmail.subscriber_id,
            OutboxEmail.email,
            OutboxEmail.request,
            OutboxEmail.attempts,
            OutboxEmail.first_attempt_at,
        ],
    )
    return [OutboxClaim(r[0], r[1], r[2], r[3], r[4] or {}, r[5], r[6] or now, token) for r in rows]


class OutboxQueue:
    """The outbox as the send engine (digest.pipeline.engine) drives it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def settle_journal(self) -> None:
        """Nothing: the outbox keeps no journal. A mark the database cannot take within the
        retry time stops the run with the error; the row is sent again after its lease."""

    def claim(self, now: datetime, size: int, lease_seconds: int) -> list[OutboxClaim]:
        return claim_outbox(self.db, now, size, lease_seconds)

    @contextlib.contextmanager
    def recorder(self) -> Iterator[OutboxRecorder]:
        yield OutboxRecorder(self.db)


class OutboxRecorder:
    """Writes one batch's outcomes, each in a transaction of its own, through dropped
    database connections (every write is idempotent). Outcomes are written only on a row
    still under this sender's claim; a sent mark whoever holds the row, as for deliveries."""

    def __init__(self, db: Database, retry_seconds: float = 30.0) -> None:
        self.db = db
        self.retry_seconds = retry_seconds

    def renew(self, token: str, now: datetime, lease_seconds: int) -> None:
        statement = leases.renewal(
            OutboxEmail, OutboxStatus, token, now + timedelta(seconds=lease_seconds)
        )
        self._write(lambda session: session.execute(statement))

    def settle_and_begin(
        self, marks: Sequence[SentNotice], following: Sequence[OutboxClaim], now: datetime
    ) -> set[int]:
        """Mark the accepted emails sent and note when a rated one went; the row ids of
        `following` still under this sender's claim (those it may send)."""

        def work(session: Session) -> set[int]:
            for mark in marks:
                _mark_sent(session, mark)
            if not following:
                return set()
            held = leases.still_held(OutboxEmail, OutboxStatus, following)
            return set(session.scalars(select(OutboxEmail.id).where(held)))

        if not marks and not following:
            return set()
        return self._write(work)

    def skipped(self, claim: OutboxClaim, reason: str, now: datetime) -> bool:
        return self._finish(claim, OutboxStatus.SKIPPED, now, reason)

    def failed(self, claim: OutboxClaim, reason: str, now: datetime) -> bool:
        return self._finish(claim, OutboxStatus.FAILED, now, reason)

    def bounced(self, claim: OutboxClaim, reason: str, now: datetime) -> None:
        """A permanent refusal of the address: the row is bounced and the address
        suppressed, as for a digest (whoever holds the row now: it is about the address)."""
        self._finish(claim, OutboxStatus.BOUNCED, now, reason)
        subscriber_id = claim.subscriber_id
        if subscriber_id is not None:
            self._write(lambda s: bounced_while_sending(s, subscriber_id, reason, now))

    def deferred(self, claim: OutboxClaim, reason: str, now: datetime, retry_at: datetime) -> bool:
        return self._update_held(
            claim,
            status=OutboxStatus.DEFERRED,
            error=reason,
            lease_until=None,
            next_attempt_at=retry_at,
        )

    def _finish(self, claim: OutboxClaim, status: OutboxStatus, now: datetime, error: str) -> bool:
        """Record how the row ended; a finished row frees its queue slot."""
        return self._update_held(claim, error=error, **_finished(claim, status, now))

    def _update_held(self, claim: OutboxClaim, **values: Any) -> bool:
        """Write `values` on the row if its claim is still this sender's; False if another
        sender took it over (its outcome is then that sender's to write)."""
        statement = (
            update(OutboxEmail)
            .where(leases.still_held(OutboxEmail, OutboxStatus, [claim]))
            .values(**values)
        )
        return self._write(lambda session: _changed_one(session, statement))

    def _write(self, work: Callable[[Session], T]) -> T:
        def attempt() -> T:
            with self.db.session() as session:
                return work(session)

        return through_outages(attempt, seconds=self.retry_seconds)


def _finished(claim: OutboxClaim, status: OutboxStatus, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": status,
        "lease_until": None,
        "next_attempt_at": None,
        "finished_at": now,
        "queue_key": None,
        # The address lives on the subscriber, if anyone: a finished row keeps no copy of
        # it (not even of one deleted at its owner's request, whose request was skipped).
        "email": None,
    }
    if claim.subscriber_id is not None:
        values["subscriber_id"] = claim.subscriber_id
    return values


def _changed_one(session: Session, statement: Update) -> bool:
    return bool(session.connection().execute(statement).rowcount == 1)


def _mark_sent(session: Session, mark: SentNotice) -> None:
    """Record an accepted email with its Message-ID; nothing if the row already was (a
    retried commit), so writing one mark twice is harmless."""
    marked = _changed_one(
        session,
        update(OutboxEmail)
        .where(OutboxEmail.id == mark.claim.row_id, OutboxEmail.status != OutboxStatus.SENT)
        .values(
            error=None,
            message_id=mark.message_id,
            **_finished(mark.claim, OutboxStatus.SENT, mark.finished_at),
        ),
    )
    if marked and mark.rated and mark.claim.subscriber_id is not None:
        # Only an email the server accepted counts for the resend rule, so a failed one
        # never locks the address out.
        session.execute(
            update(Subscriber)
            .where(Subscriber.id == mark.claim.subscriber_id)
            .values(confirmation_sent_at=mark.finished_at)
        )


def last_sent_at(session: Session, subscriber_id: int, kind: str) -> datetime | None:
    """When the server last accepted an email of `kind` for the subscriber, if ever."""
    return session.scalar(
        select(func.max(OutboxEmail.finished_at)).where(
            OutboxEmail.subscriber_id == subscriber_id,
            OutboxEmail.kind == kind,
            OutboxEmail.status == OutboxStatus.SENT,
        )
    )


def sent_since(session: Session, kind: str, since: datetime) -> set[int]:
    """The subscribers the server accepted an email of `kind` for after `since`."""
    return set(
        session.scalars(
            select(OutboxEmail.subscriber_id).where(
                OutboxEmail.kind == kind,
                OutboxEmail.status == OutboxStatus.SENT,
                OutboxEmail.finished_at > since,
                OutboxEmail.subscriber_id.is_not(None),
            )
        )
    )


def outbox_counts(session: Session) -> dict[str, int]:
    """Rows by status, every status present (zero or not)."""
    counts = {status.value: 0 for status in OutboxStatus}
    for status, count in session.execute(
        select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)
    ):
        counts[status.value] = count
    return counts


@dataclass(frozen=True)
class SentRequest:
    values: dict[str, Any]  # the topics and timezone it asked for
    sent_at: datetime | None


def latest_request(session: Session, subscriber_id: int) -> SentRequest | None:
    """The subscriber's latest subscribe request whose confirmation was sent, if any."""
    row = session.execute(
        select(OutboxEmail.request, OutboxEmail.finished_at)
        .where(
            OutboxEmail.subscriber_id == subscriber_id,
            OutboxEmail.kind == SUBSCRIBE_REQUEST,
            OutboxEmail.status == OutboxStatus.SENT,
        )
        .order_by(OutboxEmail.id.desc())
        .limit(1)
    ).first()
    return None if row is None else SentRequest(dict(row[0] or {}), row[1])


def sent_request(session: Session, subscriber_id: int, request_id: int) -> SentRequest | None:
    """The subscribe request `request_id`, if it is this subscriber's and its confirmation
    was sent."""
    row = session.execute(
        select(OutboxEmail.request, OutboxEmail.finished_at).where(
            OutboxEmail.id == request_id,
            OutboxEmail.subscriber_id == subscriber_id,
            OutboxEmail.kind == SUBSCRIBE_REQUEST,
            OutboxEmail.status == OutboxStatus.SENT,
        )
    ).first()
    return None if row is None else SentRequest(dict(row[0] or {}), row[1])
