"""Claiming queued rows with a lease, shared by the delivery queue and the outbox.

Both tables have `id`, `status` (an enum with PENDING, DEFERRED and CLAIMED), `attempts`,
`first_attempt_at`, `next_attempt_at`, `lease_until` and `claim_token`.

A row is claimable when it is pending, deferred and due for its retry, or claimed by a
sender whose lease ran out (it died). Claiming marks it claimed until `lease_until` under a
fresh random `claim_token` and counts the attempt; PostgreSQL skips rows another sender is
claiming at that moment (`FOR UPDATE SKIP LOCKED`), SQLite serialises writers, and both end
with disjoint claims. A row is a sender's while it is claimed under that sender's token:
another sender that claims it after the lease ran out writes its own token.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Update, and_, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from digest.store.db import Database


class Held(Protocol):
    """A claimed row, as far as its lease is concerned."""

    @property
    def row_id(self) -> int: ...

    @property
    def token(self) -> str: ...


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
) -> tuple[str, list[Any]]:
    """Claim up to `size` claimable rows (oldest first) under a fresh token; the token and
    `returning` of each row, after the claim, in id order (`returning` must start with the
    id). `values` are set on the claimed rows too."""
    token = secrets.token_hex(16)
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
                    claim_token=token,
                    **values,
                )
                .returning(*returning)
                .execution_options(synchronize_session=False)
            ).all()
        )
    # RETURNING gives no order; senders work oldest first.
    return token, sorted(rows, key=lambda row: row[0])


def still_held(
    table: type[Any], states: type[enum.Enum], claims: Sequence[Held]
) -> ColumnElement[bool]:
    """The rows of `claims` whose claim is still the one this sender took: claimed, under
    its token. A lease that ran out does not lose the row until another sender claims it
    (which changes the token), so this, not the clock, says whose the row is."""
    return and_(
        table.status == states["CLAIMED"],
        or_(
            *(and_(table.id == claim.row_id, table.claim_token == claim.token) for claim in claims)
        ),
    )


def renewal(table: type[Any], states: type[enum.Enum], token: str, until: datetime) -> Update:
    """The statement that extends the lease of every row still held under `token`."""
    return (
        update(table)
        .where(table.claim_token == token, table.status == states["CLAIMED"])
        .values(lease_until=until)
    )
