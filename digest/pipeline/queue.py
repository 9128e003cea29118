"""Operator control of the delivery queue: give back the rows of senders that stopped."""

from __future__ import annotations

from datetime import date, datetime

from digest.store.db import Database
from digest.store.deliveries import ReleasedRows, release_expired_claims
from digest.store.pools import find_pool


def release_stale_claims(db: Database, now: datetime, edition: date | None) -> ReleasedRows:
    """Make the rows whose sender's lease ran out claimable now (only `edition`'s pool, if
    given; nothing if that day has no pool). Rows of live senders are left alone."""
    if edition is None:
        return release_expired_claims(db, now)
    with db.session() as session:
        pool = find_pool(session, edition)
        pool_id = pool.id if pool is not None else None
    if pool_id is None:
        return ReleasedRows()
    return release_expired_claims(db, now, pool_id)
