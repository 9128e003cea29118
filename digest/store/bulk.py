"""Subscribers in bulk: one batch of already-checked rows per transaction, and a streamed
read of every subscriber, for the operator's import and export."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from digest.store.models import OutboxStatus, Subscriber, SubscriberState
from digest.store.suppression import suppressed_among
from digest.store.types import UTCDateTime


@dataclass(frozen=True)
class KnownAddress:
    """An address of the batch that is already stored (or on the suppression list)."""

    state: SubscriberState | None  # None: deleted at its owner's request (suppressed)
    created_at: datetime | None


def find_known(session: Session, emails: Sequence[str]) -> dict[str, KnownAddress]:
    """The batch's addresses that are stored or suppressed, by address: two queries."""
    known = {
        email: KnownAddress(state, created_at)
        for email, state, created_at in session.execute(
            select(Subscriber.email, Subscriber.state, Subscriber.created_at).where(
                Subscriber.email.in_(emails)
            )
        )
    }
    for email in suppressed_among(session, emails):
        known[email] = KnownAddress(None, None)
    return known


def insert_subscribers(
    session: Session, rows: Sequence[Mapping[str, Any]], now: datetime, *, confirmation: str
) -> list[tuple[int, str]]:
    """Insert new subscribers in one statement, skipping any address stored meanwhile;
    returns the (id, state) of each row inserted. A pending one gets an email of kind
    `confirmation` queued in the outbox, in the same transaction."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return _insert_subscribers_postgresql(session, rows, now, confirmation)
    return _insert_subscribers_sqlite(session, rows, now, confirmation)


EXPORTED_COLUMNS = (
    "email",
    "state",
    "topics",
    "categories",
    "authors",
    "timezone",
    "send_hour",
    "frequency",
    "send_weekday",
    "edition_size",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
    "consent",
    "consent_at",
)


def stream_subscribers(
    session: Session, state: SubscriberState | None, batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every subscriber (of `state`, if given) in id order, fetched `batch` at a time."""
    columns = [getattr(Subscriber, name) for name in EXPORTED_COLUMNS]
    last_id = 0
    while True:
        query = select(Subscriber.id, *columns).where(Subscriber.id > last_id)
        if state is not None:
            query = query.where(Subscriber.state == state)
        rows = session.execute(query.order_by(Subscriber.id).limit(batch)).all()
        for row in rows:
            yield dict(zip(EXPORTED_COLUMNS, row[1:], strict=True))
        if len(rows) < batch:
            return
        last_id = rows[-1][0]


# Batched VALUES lists cost psycopg ~0.4 s a thousand rows to convert; one JSON parameter
# read by json_to_recordset costs nothing, and the outbox rows come from the ids in SQL.
_POSTGRESQL_INSERT = text(
    """
    WITH added AS (
        INSERT INTO subscribers (email, state, topics, categories, authors, timezone,
            send_hour, frequency, send_weekday, edition_size, created_at, updated_at,
            confirmed_at, consent, consent_at)
        SELECT email, state, topics, categories, authors, timezone, send_hour, frequency,
            send_weekday, edition_size, :now, :now, confirmed_at, consent, consent_at
        FROM json_to_recordset(CAST(:rows AS json)) AS r(email text, state text,
            topics json, categories json, authors json, timezone text, send_hour integer,
            frequency text, send_weekday integer, edition_size integer,
            confirmed_at timestamptz, consent text, consent_at timestamptz)
        ON CONFLICT (email) DO NOTHING
        RETURNING id, state
    ), queued AS (
        INSERT INTO outbox (kind, subscriber_id, request, queue_key, status, attempts,
            created_at)
        SELECT CAST(:kind AS text), id, CAST('{}' AS json), CAST(:kind AS text) || ':' || id,
            CAST(:status AS text), 0, :now
        FROM added WHERE state = CAST(:pending AS text)
        ON CONFLICT (queue_key) DO NOTHING
    )
    SELECT id, state FROM added
    """
)


def _insert_subscribers_postgresql(
    session: Session, rows: Sequence[Mapping[str, Any]], now: datetime, confirmation: str
) -> list[tuple[int, str]]:
    payload = json.dumps([{**row} for row in rows], default=_json_value)
    result = session.execute(
        _POSTGRESQL_INSERT,
        {
            "rows": payload,
            "now": now,
            "kind": confirmation,
            "status": OutboxStatus.PENDING.value,
            "pending": SubscriberState.PENDING.value,
        },
    )
    return [(row_id, state) for row_id, state in result]


_SQLITE_INSERT = text(
    """
    INSERT INTO subscribers (email, state, topics, categories, authors, timezone, send_hour,
        frequency, send_weekday, edition_size, created_at, updated_at, confirmed_at, consent,
        consent_at)
    SELECT json_extract(value, '$.email'), json_extract(value, '$.state'),
        json_extract(value, '$.topics'), json_extract(value, '$.categories'),
        json_extract(value, '$.authors'), json_extract(value, '$.timezone'),
        json_extract(value, '$.send_hour'), json_extract(value, '$.frequency'),
        json_extract(value, '$.send_weekday'), json_extract(value, '$.edition_size'),
        :now, :now, CASE WHEN json_extract(value, '$.confirmed_at') IS NULL THEN NULL ELSE :now END,
        json_extract(value, '$.consent'),
        CASE WHEN json_extract(value, '$.consent_at') IS NULL THEN NULL ELSE :now END
    FROM json_each(:rows) WHERE true  -- "WHERE true": SQLite's parser needs it before ON CONFLICT
    ON CONFLICT (email) DO NOTHING
    RETURNING id, state
    """
).bindparams(bindparam("now", type_=UTCDateTime()))
_SQLITE_QUEUE = text(
    """
    INSERT INTO outbox (kind, subscriber_id, request, queue_key, status, attempts, created_at)
    SELECT :kind, value, '{}', :kind || ':' || value, :status, 0, :now
    FROM json_each(:ids) WHERE true
    ON CONFLICT (queue_key) DO NOTHING
    """
).bindparams(bindparam("now", type_=UTCDateTime()))


def _insert_subscribers_sqlite(
    session: Session, rows: Sequence[Mapping[str, Any]], now: datetime, confirmation: str
) -> list[tuple[int, str]]:
    payload = json.dumps([{**row} for row in rows], default=_json_value)
    inserted = [
        (row_id, state)
        for row_id, state in session.execute(_SQLITE_INSERT, {"rows": payload, "now": now})
    ]
    pending = [row_id for row_id, state in inserted if state == SubscriberState.PENDING.value]
    if pending:
        session.execute(
            _SQLITE_QUEUE,
            {
                "ids": json.dumps(pending),
                "kind": confirmation,
                "status": OutboxStatus.PENDING.value,
                "now": now,
            },
        )
    return inserted


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
