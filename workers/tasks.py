"""Celery tasks: each body calls one core function."""

from __future__ import annotations

import logging
import math
from datetime import date, datetime

from digest.mail.bounces import import_maildir
from digest.mail.smtp import TemporaryFailure
from digest.pipeline.fetch import scheduled_fetch
from digest.pipeline.notices import send_already_subscribed, send_confirmation
from digest.pipeline.plan import plan_deliveries as plan
from digest.pipeline.send import deliver_batch
from digest.settings import get_settings
from digest.store.deliveries import editions_with_work
from digest.store.types import utcnow
from workers.app import app, database, send_limiter

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

    Tasks carry only the edition id; the rows to send live in the database, so a task
    lost with Redis is replaced at the next planner run and a redelivered one finds
    nothing left to claim.
    """
    moment = _moment(now)
    settings = get_settings()
    plan(database(), settings, moment)
    tasks = 0
    for edition_id, claimable in editions_with_work(database(), moment):
        for _ in range(math.ceil(claimable / settings.send_batch_size)):
            send_pending.delay(edition_id, now)
            tasks += 1
    return tasks


@app.task(acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def send_pending(edition_id: int, now: str | None = None) -> dict[str, int]:
    """Claim one batch of the edition's queued deliveries and send it."""
    settings = get_settings()
    counts = deliver_batch(
        database(), settings, edition_id, now=_moment(now), limiter=send_limiter()
    )
    return {"sent": counts.sent, "deferred": counts.deferred, "failed": counts.failed}


# Subscriber emails retry on SMTP trouble with backoff for about a day.
NOTICE_RETRY = {
    "acks_late": True,
    "autoretry_for": (TemporaryFailure,),
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "retry_jitter": True,
    "max_retries": 12,
}


@app.task(**NOTICE_RETRY)  # type: ignore[untyped-decorator]
def send_confirmation_email(subscriber_id: int) -> bool:
    return send_confirmation(database(), get_settings(), subscriber_id)


@app.task(**NOTICE_RETRY)  # type: ignore[untyped-decorator]
def send_already_subscribed_email(subscriber_id: int) -> bool:
    return send_already_subscribed(database(), get_settings(), subscriber_id)


@app.task(acks_late=True)  # type: ignore[untyped-decorator]
def import_bounces() -> dict[str, int]:
    """Read new bounce and complaint reports from DIGEST_BOUNCE_MAILDIR, when it is set."""
    folder = get_settings().bounce_maildir
    return import_maildir(database(), folder).counts() if folder else {}
