"""Recording a subscriber's "more like this" / "less like this", listing and forgetting them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
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


@dataclass(frozen=True)
class RatedPaper:
    """One vote as the preferences page lists it."""

    arxiv_id: str
    title: str
    url: str
    rating: int  # +1 more like this, -1 less
    at: datetime


def votes_of(session: Session, subscriber_id: int) -> list[RatedPaper]:
    """The subscriber's votes, newest first."""
    rows = session.execute(
        select(Paper.arxiv_id, Paper.title, Paper.url, Feedback.rating, Feedback.updated_at)
        .join(Paper, Paper.id == Feedback.paper_id)
        .where(Feedback.subscriber_id == subscriber_id)
        .order_by(Feedback.updated_at.desc(), Feedback.id.desc())
    )
    return [RatedPaper(*row) for row in rows]


def forget_votes(session: Session, subscriber_id: int) -> int:
    """Delete every vote of the subscriber; how many there were."""
    result = session.execute(delete(Feedback).where(Feedback.subscriber_id == subscriber_id))
    return int(getattr(result, "rowcount", 0) or 0)
