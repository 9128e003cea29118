"""Claiming queued rows with a lease, shared by the delivery queue and the outbox.

Both tables have `id`, `status` (an enum with PENDING, DEFERRED and CLAIMED), `attempts`,
`first_attempt_at`, `next_attempt_at` and `lease_until`.

A row is claimable when it is pending, deferred and due for its retry, or claimed by a
sender whose lease ran out (it died). Claiming marks it claimed until `lease_until` and
counts the attempt; PostgreSQL skips rows another sender is claiming at that moment
(`FOR UPDATE SKIP LOCKED`), SQLite serialises writers, and both end with disjoint claims.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from digest.settings import DeliverySettings
from digest.store.db import Database


def claimable(table: type[Any], states: type[enum.Enum], now: datetime) -> ColumnElement[bool]:
    """Rows a sender may take now: queued, due for a retry, or whose claim expired."""
    return or_(
        table.status == states["PENDING"],
        and_(table.status == states["DEFERRED"], table.next_attempt_at <= now),
        and_(table.status == states["CLAIMED"], table.lease_until < now),
    )


def claim_rows(
    db: Database,
    table: type[Any],
    states: type[enum.Enum],
    now: datetime,
    *,
    size: int,
    lease_seconds: int,
    returning: Sequence[Any],
    where: Sequence[ColumnElement[bool]] = (),
    **values: Any,
) -> list[Any]:
    """Claim up to `size` claimable rows (oldest first) and return `returning` of each,
    after the claim, in id order (`returning` must start with the id); `values` are set on
    the claimed rows too."""
    with db.session() as session:
        chosen = (
            select(table.id)
            .where(*where, claimable(table, states, now))
            .order_by(table.id)
            .limit(size)
        )
        if not db.is_sqlite:
            chosen = chosen.with_for_update(skip_locked=True)
        rows = list(
            session.execute(
                update(table)
                .where(table.id.in_(chosen.scalar_subquery()))
                .values(
                    status=states["CLAIMED"],
                    lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=table.attempts + 1,
                    first_attempt_at=func.coalesce(table.first_attempt_at, now),
                    **values,
                )
                .returning(*returning)
                .execution_options(synchronize_session=False)
            ).all()
        )
    # RETURNING gives no order; senders work oldest first.
    return sorted(rows, key=lambda row: row[0])


def next_attempt(
    attempts: int, first_attempt_at: datetime, now: datetime, delivery: DeliverySettings
) -> datetime | None:
    """When to try again after a temporary failure; None once it is time to give up."""
    if now - first_attempt_at >= timedelta(hours=delivery.give_up_hours):
        return None
    return now + timedelta(seconds=retry_delay(attempts, delivery))


def retry_delay(
    attempts: int, delivery: DeliverySettings, rng: random.Random | None = None
) -> float:
    """Exponential backoff with jitter: base * 2^(attempts-1), capped, times 0.5-1.5."""
    raw = min(delivery.retry_base_seconds * 2 ** max(attempts - 1, 0), delivery.retry_max_seconds)
    return float(raw * (0.5 + (rng or random).random()))
