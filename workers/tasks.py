"""Celery tasks: each body calls one core function."""

from __future__ import annotations

import logging
from datetime import date, datetime

from digest.pipeline.bounces import import_maildir
from digest.pipeline.fetch import scheduled_fetch
from digest.pipeline.notices import queue_scheduled, send_outbox
from digest.pipeline.plan import plan_and_fan_out
from digest.pipeline.send import send_batch, shared_send_limiter
from digest.pipeline.unsubscribes import import_unsubscribes
from digest.settings import get_settings
from digest.store.types import utcnow
from workers.app import app, database

log = logging.getLogger(__name__)


@app.task(acks_late=True)  # type: ignore[untyped-decorator]
def fetch_papers(day: str | None = None, source: str = "hf") -> None:
    """Ingest from the last good run through `day` (default today, UTC); each run is recorded."""
    report = scheduled_fetch(
        database(), get_settings(), source, date.fromisoformat(day) if day else None
    )
    if report.error:
        log.warning("fetch from %s incomplete: %s", source, report.error)


def _moment(now: str | None) -> datetime:
    moment = datetime.fromisoformat(now) if now else utcnow()
    if moment.tzinfo is None:
        raise ValueError(f"a timezone-aware moment is needed, got {now!r}")
    return moment


@app.task(acks_late=True)  # type: ignore[untyped-decorator]
def plan_deliveries(now: str | None = None) -> int:
    """Queue everyone who is due (now, or at the given ISO moment) and fan out send tasks.

    Tasks carry only the pool id; the rows to send live in the database, so a task
    lost with Redis is replaced at the next planner run and a redelivered one finds
    nothing left to claim.
    """
    return plan_and_fan_out(
        database(), get_settings(), _moment(now), lambda pool_id: send_pending.delay(pool_id, now)
    )


@app.task(acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def send_pending(pool_id: int, now: str | None = None) -> dict[str, int]:
    """Claim one batch of the pool's queued editions and send it."""
    settings = get_settings()
    # `now` is the planner's moment, kept in the task's arguments for tasks already queued;
    # a batch's leases and marks are timed by the clock as it sends.
    counts = send_batch(
        database(), settings, pool_id, limiter=shared_send_limiter(settings.delivery)
    )
    return {"sent": counts.sent, "deferred": counts.deferred, "failed": counts.failed}


@app.task(acks_late=True)  # type: ignore[untyped-decorator]
def send_outbox_emails() -> int:
    """Send the subscriber emails waiting in the outbox (asked for by the web, and swept by
    beat so a lost task is only a delay); retries live in the outbox rows."""
    return len(send_outbox(database(), get_settings()).sent)


@app.task(acks_late=True)  # type: ignore[untyped-decorator]
def queue_scheduled_emails(kind: str) -> int:
    """Queue the scheduled email `kind` for its audience, then send the outbox; how many
    were queued (a second run in the same week queues nobody twice: the kind's interval)."""
    queued = queue_scheduled(database(), get_settings(), kind)
    if queued:
        send_outbox_emails.delay()
    return queued


@app.task(acks_late=True)  # type: ignore[untyped-decorator]
def import_bounces() -> dict[str, int]:
    """Read new bounce and complaint reports from DIGEST_BOUNCE_MAILDIR, when it is set."""
    settings = get_settings()
    folder = settings.bounce_maildir
    return import_maildir(database(), settings.email, folder).counts() if folder else {}


@app.task(acks_late=True)  # type: ignore[untyped-decorator]
def import_unsubscribe_requests() -> dict[str, int]:
    """Read mail sent to the List-Unsubscribe mailbox from DIGEST_UNSUBSCRIBE_MAILDIR, when it
    is set, and unsubscribe the subscribers whose signed token it carries."""
    settings = get_settings()
    folder = settings.unsubscribe_maildir
    return import_unsubscribes(database(), settings.email, folder).counts() if folder else {}
