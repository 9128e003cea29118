"""Which arXiv categories to fetch: those active subscribers follow."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest.store.models import Subscriber, SubscriberState


def followed_categories(session: Session) -> list[str]:
    """The distinct arXiv categories active subscribers follow, sorted."""
    found: set[str] = set()
    for categories in session.scalars(
        select(Subscriber.categories).where(Subscriber.state == SubscriberState.ACTIVE)
    ):
        found.update(c.strip() for c in categories or [] if isinstance(c, str) and c.strip())
    return sorted(found)
