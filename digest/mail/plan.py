"""The planner: which subscribers are due now, in batches, and an in-process runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from digest.mail.deliver import SendCounts, chunked, deliver_edition
from digest.schedule import days_in_progress, due_subscribers
from digest.settings import Settings
from digest.store.db import Database

DEFAULT_BATCH_SIZE = 200


@dataclass(frozen=True)
class Batch:
    day: date
    subscriber_ids: list[int]


def plan_batches(
    db: Database,
    now: datetime,
    *,
    edition: date | None = None,
    only_email: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> list[Batch]:
    """Due work as batches. Without `edition`, each subscriber's own local today is used;
    with it, everyone whose send moment for that day has passed (all, for a past day)."""
    batches: list[Batch] = []
    with db.session() as session:
        days = [edition] if edition is not None else days_in_progress(session, now)
        for day in days:
            due = due_subscribers(
                session, day, now, local_day_only=edition is None, only_email=only_email
            )
            ids = (subscriber.id for subscriber in due)
            batches.extend(Batch(day, chunk) for chunk in chunked(ids, batch_size))
    return batches


def send_due_now(
    db: Database,
    settings: Settings,
    now: datetime,
    *,
    edition: date | None = None,
    only_email: str | None = None,
    dry_run: bool = False,
    on_planned: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> SendCounts:
    """Plan and deliver in this process (the CLI and the demo; workers fan out instead)."""
    batches = plan_batches(db, now, edition=edition, only_email=only_email)
    if on_planned is not None:
        on_planned(sum(len(b.subscriber_ids) for b in batches))
    total = SendCounts()
    for batch in batches:
        total.add(
            deliver_edition(
                db,
                settings,
                batch.day,
                batch.subscriber_ids,
                now=now,
                dry_run=dry_run,
                on_progress=on_progress,
            )
        )
    return total
