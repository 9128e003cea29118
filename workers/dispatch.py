"""How the web hands a subscriber email to the Celery worker: one task, kind by name."""

from __future__ import annotations

from celery import Celery

from digest.pipeline.notices import Dispatcher, notice_kind

SEND_NOTICE_TASK = "workers.tasks.send_subscriber_email"


def celery_dispatcher(celery_app: Celery | None = None) -> Dispatcher:
    """A task per email, retried by the worker if SMTP is down."""
    if celery_app is None:
        from workers.app import app as celery_app
    assert celery_app is not None

    def enqueue(kind: str, subscriber_id: int) -> None:
        notice_kind(kind)
        celery_app.send_task(SEND_NOTICE_TASK, args=[kind, subscriber_id])

    return enqueue
