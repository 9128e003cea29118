"""Hashed suppression entries: addresses deleted at their owner's request, never mailed again.

Every way an address becomes a subscriber or active again asks `refuse_suppressed` (or, in
bulk, `suppressed_among`), and so does the sender right before it mails anyone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.store.models import Suppression
from digest.store.types import utcnow

REASON_DELETED = "deleted"  # by its owner (the preferences page), or for them by an operator
REASONS = {REASON_DELETED: "was deleted at its owner's request"}


class SuppressedAddress(DigestError):
    """The address is on the suppression list: it is never added, activated or mailed."""


def suppression_hash(email: str) -> str:
    """SHA-256 of the normalised address, domain-separated from any other hash we keep."""
    # Deliberately unkeyed: rotating DIGEST_SECRET_KEY must never forget a deletion.
    return hashlib.sha256(f"digest.suppression:{email}".encode()).hexdigest()


def find_suppression(session: Session, email: str) -> Suppression | None:
    """The suppression entry of this normalised address, if it has one."""
    return session.scalar(
        select(Suppression).where(Suppression.email_hash == suppression_hash(email))
    )


def is_suppressed(session: Session, email: str) -> bool:
    """True if this normalised address asked to be deleted and must not be mailed."""
    found = session.scalar(
        select(Suppression.id).where(Suppression.email_hash == suppression_hash(email))
    )
    return found is not None


def refuse_suppressed(session: Session, email: str) -> None:
    """Raise SuppressedAddress, with the reason and the day, if the address is suppressed."""
    found = find_suppression(session, email)
    if found is not None:
        why = REASONS.get(found.reason, f"was suppressed ({found.reason})")
        raise SuppressedAddress(
            f"{email} {why} on {found.created_at.date().isoformat()} and is never mailed again"
        )


def suppressed_among(session: Session, emails: Iterable[str]) -> set[str]:
    """Those of the normalised `emails` that are suppressed: one query."""
    by_hash = {suppression_hash(email): email for email in emails}
    if not by_hash:
        return set()
    found = session.scalars(
        select(Suppression.email_hash).where(Suppression.email_hash.in_(by_hash))
    )
    return {by_hash[email_hash] for email_hash in found}


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
