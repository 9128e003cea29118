"""The Celery app, configured from digest's settings."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from celery import Celery
from celery.schedules import crontab

from digest.settings import get_settings
from digest.store.db import Database

# A task that waits in Redis longer than this is handed to another worker; it must exceed
# the longest countdown/ETA we use, or the task is delivered twice (both runs are still
# safe thanks to the delivery claim, but the second is wasted work).
VISIBILITY_TIMEOUT_SECONDS = 6 * 3600


def make_celery() -> Celery:
    settings = get_settings()
    app = Celery("digest", broker=settings.broker_url, include=["workers.tasks"])
    app.conf.update(
        task_default_queue=settings.task_queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # Fail a publish within seconds when Redis is down instead of blocking a web request.
        task_publish_retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS},
        timezone="UTC",
        beat_schedule={
            "fetch-papers": {
                "task": "workers.tasks.fetch_papers",
                "schedule": timedelta(minutes=settings.fetch_interval_minutes),
            },
            "fetch-arxiv": {
                "task": "workers.tasks.fetch_papers",
                "schedule": timedelta(minutes=settings.fetch_interval_minutes),
                "kwargs": {"source": "arxiv"},
            },
            "plan-deliveries": {
                "task": "workers.tasks.plan_deliveries",
                "schedule": timedelta(minutes=settings.plan_interval_minutes),
            },
            "send-outbox": {
                "task": "workers.tasks.send_outbox_emails",
                "schedule": timedelta(seconds=settings.outbox_sweep_seconds),
            },
            "import-bounces": {
                "task": "workers.tasks.import_bounces",
                "schedule": timedelta(minutes=10),
            },
            "import-unsubscribes": {
                "task": "workers.tasks.import_unsubscribe_requests",
                "schedule": timedelta(minutes=10),
            },
            # Subscriber emails sent on a schedule: the kind's name (digest.pipeline.emails).
            "missed-papers": email_kind_schedule("missed_papers", crontab(minute=0, hour=9)),
        },
    )
    return app


def email_kind_schedule(kind: str, schedule: object) -> dict[str, object]:
    """A beat entry that queues the email `kind` for its audience (nothing while it is off);
    the outbox sweep sends what it queued."""
    return {"task": "workers.tasks.queue_scheduled_emails", "schedule": schedule, "args": (kind,)}


app = make_celery()


@lru_cache(maxsize=1)
def database() -> Database:
    """One engine per worker process."""
    return Database(get_settings().database_url)
