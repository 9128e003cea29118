"""The outbox: subscriber emails queued in the transaction that asks for them, then claimed
by a sender with a lease, like deliveries.

States: pending -> claimed -> sent | bounced | skipped | deferred | failed, deferred ->
claimed again when its retry time comes, and sent -> bounced when a report tied to it
comes back; a claim whose lease ran out (its sender died) may be
claimed again. While a row is unsent its `queue_key` holds one slot per (kind, address or
subscriber), so asking twice queues one email.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from digest.settings import DeliverySettings
from digest.store import leases
from digest.store.db import Database
from digest.store.models import UNSENT_OUTBOX, OutboxEmail, OutboxStatus

SUBSCRIBE_REQUEST = "subscribe"  # a request from the form; the sender decides what it becomes


@dataclass(frozen=True)
class OutboxClaim:
    row_id: int
    kind: str
    subscriber_id: int | None
    email: str | None
    request: Mapping[str, Any]
    attempts: int  # including this one
    first_attempt_at: datetime


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


def claimable(now: datetime) -> ColumnElement[bool]:
    """Outbox rows a sender may take now (see digest.store.leases)."""
    return leases.claimable(OutboxEmail, OutboxStatus, now)


def claim_outbox(db: Database, now: datetime, size: int, lease_seconds: int) -> list[OutboxClaim]:
    """Take up to `size` rows due now for this sender, oldest first."""
    rows = leases.claim_rows(
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
    return [OutboxClaim(r[0], r[1], r[2], r[3], r[4] or {}, r[5], r[6] or now) for r in rows]


def finish_outbox(
    session: Session,
    claim: OutboxClaim,
    status: OutboxStatus,
    now: datetime,
    *,
    error: str | None = None,
    subscriber_id: int | None = None,
    message_id: str | None = None,
) -> None:
    """Record how a claimed row ended (with the Message-ID of an email the server
    accepted); a finished row frees its queue slot."""
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "lease_until": None,
        "next_attempt_at": None,
        "finished_at": now,
        "queue_key": None,
        # The address lives on the subscriber, if anyone: a finished row keeps no copy of
        # it (not even of one deleted at its owner's request, whose request was skipped).
        "email": None,
    }
    if subscriber_id is not None:
        values["subscriber_id"] = subscriber_id
    if message_id is not None:
        values["message_id"] = message_id
    session.execute(update(OutboxEmail).where(OutboxEmail.id == claim.row_id).values(**values))


def defer_or_give_up(
    session: Session, claim: OutboxClaim, reason: str, now: datetime, delivery: DeliverySettings
) -> bool:
    """Retry later with backoff, or give up once the first attempt is `give_up_hours` old.

    True if deferred.
    """
    retry_at = leases.next_attempt(claim.attempts, claim.first_attempt_at, now, delivery)
    if retry_at is None:
        finish_outbox(
            session,
            claim,
            OutboxStatus.FAILED,
            now,
            error=f"gave up after {claim.attempts} attempts: {reason}",
        )
        return False
    session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == claim.row_id)
        .values(
            status=OutboxStatus.DEFERRED, error=reason, lease_until=None, next_attempt_at=retry_at
        )
    )
    return True


def outbox_counts(session: Session) -> dict[str, int]:
    """Rows by status, every status present (zero or not)."""
    counts = {status.value: 0 for status in OutboxStatus}
    for status, count in session.execute(
        select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)
    ):
        counts[status.value] = count
    return counts


def has_unsent(session: Session, kinds: Sequence[str], subscriber_id: int) -> bool:
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboxEmail)
            .where(
                OutboxEmail.subscriber_id == subscriber_id,
                OutboxEmail.kind.in_(kinds),
                OutboxEmail.status.in_(UNSENT_OUTBOX),
            )
        )
        or 0
    ) > 0


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
