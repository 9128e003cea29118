"""The planner: queue a delivery row for everyone who is due, and the in-process runner."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypedDict, Unpack

from digest.pipeline.editions import pick_editions, profiles_of
from digest.pipeline.engine import Clock, SendCounts
from digest.pipeline.notices import OutboxReport, send_outbox
from digest.pipeline.pool import day_pool
from digest.pipeline.send import send_batch
from digest.settings import Settings
from digest.store.db import Database, keep_statistics
from digest.store.deliveries import HeldRows, held_rows, pools_with_work, queue_deliveries
from digest.store.models import Subscriber
from digest.store.schedule import days_in_progress, due_page
from digest.store.types import utcnow

log = logging.getLogger(__name__)
HELD_POLL_SECONDS = 1.0
PLAN_PAGE_SIZE = 1000


@dataclass
class PlanReport:
    queued: dict[date, int] = field(default_factory=dict)
    no_papers: list[date] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.queued.values())


def plan_deliveries(
    db: Database,
    settings: Settings,
    now: datetime,
    *,
    edition: date | None = None,
    only_email: str | None = None,
    on_queued: Callable[[int, int], None] | None = None,
) -> PlanReport:
    """Queue a pending delivery for every due subscriber; safe to run twice at once.

    Without `edition`, each subscriber's own local today is planned; with it, everyone whose
    send moment for that day has passed (all, for a past day). Subscribers are read a page at
    a time, so memory stays flat however many there are; `on_queued(pool_id, count)` is
    told after each page.
    """
    report = PlanReport()
    queued = 0
    with db.session() as session:
        days = [edition] if edition is not None else days_in_progress(session, now)
    for day in days:
        pool = day_pool(db, settings.ranking, day, now)
        if pool is None:
            report.no_papers.append(day)
            log.warning("no papers for the %s edition yet; nobody is queued for it", day)
            continue
        for due in _due_pages(db, day, now, local_day_only=edition is None, only_email=only_email):
            with db.session() as session:
                inserted = queue_deliveries(session, pool.pool_id, due, now)
                queued += inserted
                report.queued[day] = report.queued.get(day, 0) + len(due)
                keep_statistics(session, {"deliveries": queued, "subscribers": report.total})
            if on_queued is not None and inserted:
                on_queued(pool.pool_id, inserted)
    return report


def plan_and_fan_out(
    db: Database, settings: Settings, now: datetime, enqueue: Callable[[int], None]
) -> int:
    """Beat's planner: ask for one send per batch of claimable rows, then queue everyone
    due, asking for their sends a page at a time (sending starts with the first page).

    `enqueue(pool_id)` starts one batch's send (a Celery task). Returns how many were asked.
    A send that finds nothing left to claim costs one query.
    """
    batch = settings.delivery.batch_size
    asked = 0

    def ask(pool_id: int, rows: int) -> None:
        nonlocal asked
        for _ in range(math.ceil(rows / batch)):
            enqueue(pool_id)
            asked += 1

    # Rows already waiting: retries now due, leases of dead senders run out.
    for pool_id, claimable in pools_with_work(db, now):
        ask(pool_id, claimable)
    plan_deliveries(db, settings, now, on_queued=ask)
    return asked


def _due_pages(
    db: Database, day: date, now: datetime, *, local_day_only: bool, only_email: str | None
) -> Iterator[list[tuple[int, datetime]]]:
    """The due (subscriber id, send moment) pairs of `day`, a page at a time."""
    after: int | None = 0
    while after is not None:
        with db.session() as session:
            due, after = due_page(
                session,
                day,
                now,
                after_id=after,
                page_size=PLAN_PAGE_SIZE,
                local_day_only=local_day_only,
                only_email=only_email,
            )
        yield due


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
    on_held: Callable[[HeldRows], None] | None = None,
    clock: Clock = utcnow,
) -> SendCounts:
    """Plan and send in this process until nothing is claimable (the CLI and the demo).

    `now` is the run's logical moment: who is due, and whose local today it is. Leases,
    marks and retries are timed by `clock` at each step, however long the run takes.
    With `on_held`, also wait for rows other senders hold (it is told each time), taking
    over those whose lease runs out, until none is left.
    """
    if dry_run:
        return _dry_run(db, settings, now, edition=edition, only_email=only_email)
    plan_deliveries(db, settings, now, edition=edition, only_email=only_email)
    work = pools_with_work(db, clock())
    if on_planned is not None:
        on_planned(sum(count for _, count in work))
    total = SendCounts()
    while True:
        for pool_id, _ in work:
            while True:
                counts = send_batch(db, settings, pool_id, clock=clock, on_progress=on_progress)
                if counts.due == 0:
                    break
                total.add(counts)
        if on_held is None:
            return total
        # Rows another sender holds: wait for it to finish them, or for its lease to run
        # out and take them over, rather than leave them for a later run. Leases are timed
        # by the clock; `now` is only the run's logical moment, for who is due.
        held = held_rows(db, clock())
        if held.live == 0 and held.expired == 0:
            return total
        on_held(held)
        time.sleep(HELD_POLL_SECONDS if held.live else 0.1)
        work = pools_with_work(db, clock())


@dataclass(frozen=True)
class SendRun:
    """What `digest send` did: the digests, then the subscriber emails the outbox held (None
    on a dry run), and the rows other senders still hold when it did not wait for them."""

    digests: SendCounts
    notices: OutboxReport | None = None
    held: HeldRows | None = None


class DueRun(TypedDict, total=False):
    """How `send_due_now` runs (see its parameters)."""

    edition: date | None
    only_email: str | None
    dry_run: bool
    on_planned: Callable[[int], None] | None
    on_progress: Callable[[int], None] | None
    on_held: Callable[[HeldRows], None] | None
    clock: Clock


def send_everything_due(
    db: Database, settings: Settings, now: datetime, **run: Unpack[DueRun]
) -> SendRun:
    """`digest send`: plan and send the due digests (`send_due_now`), then whatever the
    outbox of subscriber emails holds, so they leave with the run."""
    digests = send_due_now(db, settings, now, **run)
    if run.get("dry_run"):
        return SendRun(digests)
    waited = run.get("on_held") is not None
    held = None if waited else held_rows(db, run.get("clock", utcnow)())
    return SendRun(digests, send_outbox(db, settings), held)


def _dry_run(
    db: Database,
    settings: Settings,
    now: datetime,
    *,
    edition: date | None,
    only_email: str | None,
) -> SendCounts:
    """Count who is due and who would get a non-empty digest, writing nothing."""
    counts = SendCounts()
    with db.session() as session:
        days = [edition] if edition is not None else days_in_progress(session, now)
    for day in days:
        pool = day_pool(db, settings.ranking, day, now)
        for due in _due_pages(db, day, now, local_day_only=edition is None, only_email=only_email):
            counts.due += len(due)
            if pool is None or not due:
                continue
            with db.session() as session:
                subscribers = [session.get_one(Subscriber, sid) for sid, _ in due]
                profiles = profiles_of(session, subscribers, pool)
            for entries in pick_editions(pool, profiles, settings.ranking):
                if entries:
                    counts.sent += 1
                else:
                    counts.empty += 1
    return counts
