"""Counts for operators: subscribers, editions, deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from digest.store.models import Delivery, DeliveryStatus, Edition, EditionItem
from digest.store.subscribers import count_by_state


@dataclass(frozen=True)
class EditionStats:
    day: date
    papers: int
    sent: int
    other: int


@dataclass(frozen=True)
class Stats:
    subscribers: dict[str, int]
    deliveries: dict[str, int]
    editions: list[EditionStats]


def collect_stats(session: Session, last_editions: int = 7) -> Stats:
    deliveries = {
        status.value: count
        for status, count in session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
    }
    editions = []
    for edition in session.scalars(
        select(Edition).order_by(Edition.date.desc()).limit(last_editions)
    ):
        papers = session.scalar(
            select(func.count())
            .select_from(EditionItem)
            .where(EditionItem.edition_id == edition.id)
        )
        by_status = {
            status: count
            for status, count in session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.edition_id == edition.id)
                .group_by(Delivery.status)
            )
        }
        sent = by_status.pop(DeliveryStatus.SENT, 0)
        editions.append(EditionStats(edition.date, papers or 0, sent, sum(by_status.values())))
    return Stats(count_by_state(session), deliveries, editions)
