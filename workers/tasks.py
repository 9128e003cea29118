"""Celery tasks: each body calls one core function."""

from __future__ import annotations

import logging
from datetime import date, datetime

from digest.errors import SourceError
from digest.mail.confirmations import send_confirmation
from digest.mail.deliver import deliver_edition
from digest.mail.plan import plan_batches
from digest.mail.smtp import TemporaryFailure
from digest.settings import get_settings
from digest.sources.http import make_http_client
from digest.sources.ingest import fetch_and_store, source_for_name
from digest.store.types import utcnow
from workers.app import app, database

log = logging.getLogger(__name__)


@app.task(acks_late=True)  # type: ignore[untyped-decorator]
def fetch_papers(day: str | None = None, source: str = "hf") -> None:
    """Ingest the day's papers (default: today in UTC); a failing source is logged."""
    settings = get_settings()
    with make_http_client(settings) as client:
        try:
            report = fetch_and_store(
                database(),
                source_for_name(source, settings, client),
                date.fromisoformat(day) if day else utcnow().date(),
            )
        except SourceError as exc:
            log.warning("fetch skipped: %s", exc)
            return
    log.info("fetched %s", report)


@app.task(acks_late=True)  # type: ignore[untyped-decorator]
def plan_deliveries(now: str | None = None) -> int:
    """Find who is due (now, or at the given ISO moment) and fan out a send task per batch."""
    moment = datetime.fromisoformat(now) if now else utcnow()
    if moment.tzinfo is None:
        raise ValueError(f"plan_deliveries needs a timezone-aware moment, got {now!r}")
    batches = plan_batches(database(), moment)
    for batch in batches:
        send_edition_batch.delay(batch.day.isoformat(), batch.subscriber_ids, moment.isoformat())
    return len(batches)


@app.task(acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def send_edition_batch(
    day: str, subscriber_ids: list[int], now: str | None = None
) -> dict[str, int]:
    moment = datetime.fromisoformat(now) if now else utcnow()
    counts = deliver_edition(
        database(), get_settings(), date.fromisoformat(day), subscriber_ids, now=moment
    )
    return {"sent": counts.sent, "skipped": counts.skipped, "deferred": counts.deferred}


@app.task(  # type: ignore[untyped-decorator]
    acks_late=True,
    autoretry_for=(TemporaryFailure,),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=12,
)
def send_confirmation_email(subscriber_id: int) -> bool:
    return send_confirmation(database(), get_settings(), subscriber_id)
