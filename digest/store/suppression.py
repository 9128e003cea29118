"""Hashed suppression entries: addresses deleted at their owner's request, never mailed again."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.store.models import Suppression
from digest.store.types import utcnow

REASON_DELETED = "deleted"


def suppression_hash(email: str) -> str:
    """SHA-256 of the normalised address, domain-separated from any other hash we keep."""
    # Deliberately unkeyed: rotating DIGEST_SECRET_KEY must never forget a deletion.
    return hashlib.sha256(f"digest.suppression:{email}".encode()).hexdigest()


def is_suppressed(session: Session, email: str) -> bool:
    """True if this normalised address asked to be deleted and must not be mailed."""
    found = session.scalar(
        select(Suppression.id).where(Suppression.email_hash == suppression_hash(email))
    )
    return found is not None


def suppress(
    session: Session, email: str, reason: str = REASON_DELETED, now: datetime | None = None
) -> None:
    """Record the address (as a hash only); suppressing twice is harmless."""
    if is_suppressed(session, email):
        return
    try:
        with session.begin_nested():
            session.add(
                Suppression(
                    email_hash=suppression_hash(email), reason=reason, created_at=now or utcnow()
                )
            )
    except IntegrityError:  # suppressed concurrently
        pass
