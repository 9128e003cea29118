"""Recording a subscriber's "more like this" / "less like this"."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.store.models import Feedback, Paper
from digest.store.types import utcnow


class Vote(enum.StrEnum):
    MORE = "more"
    LESS = "less"

    @property
    def rating(self) -> int:
        return 1 if self is Vote.MORE else -1


class UnknownPaper(DigestError):
    """Feedback about a paper we do not have."""


def parse_vote(raw: str) -> Vote:
    try:
        return Vote(raw)
    except ValueError:
        raise DigestError("the link asks for neither more nor less like this") from None


def find_paper(session: Session, arxiv_id: str) -> Paper:
    paper = session.scalar(select(Paper).where(Paper.arxiv_id == arxiv_id))
    if paper is None:
        raise UnknownPaper(f"no paper {arxiv_id[:40]!r} here")
    return paper


def record_feedback(
    session: Session, subscriber_id: int, arxiv_id: str, vote: Vote, now: datetime | None = None
) -> Paper:
    """Store the subscriber's latest vote on the paper (a second vote replaces the first)."""
    now = now or utcnow()
    paper = find_paper(session, arxiv_id)
    existing = session.scalar(
        select(Feedback).where(
            Feedback.subscriber_id == subscriber_id, Feedback.paper_id == paper.id
        )
    )
    if existing is None:
        try:
            with session.begin_nested():
                session.add(
                    Feedback(
                        subscriber_id=subscriber_id,
                        paper_id=paper.id,
                        rating=vote.rating,
                        created_at=now,
                        updated_at=now,
                    )
                )
            return paper
        except IntegrityError:  # the same vote clicked twice at once
            existing = session.scalars(
                select(Feedback).where(
                    Feedback.subscriber_id == subscriber_id, Feedback.paper_id == paper.id
                )
            ).one()
    existing.rating = vote.rating
    existing.updated_at = now
    return paper
