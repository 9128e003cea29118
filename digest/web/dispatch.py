"""How the web hands an email the subscribe form asked for to be sent: Celery or a thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from celery import Celery

from digest.errors import SendError
from digest.pipeline.notices import send_subscriber_email
from digest.settings import Settings
from digest.store.db import Database
from digest.store.subscribers import EmailToSend

log = logging.getLogger(__name__)

Dispatcher = Callable[[EmailToSend, int], None]
CONFIRMATION_TASK = "workers.tasks.send_confirmation_email"
TASKS = {
    EmailToSend.CONFIRMATION: CONFIRMATION_TASK,
    EmailToSend.ALREADY_SUBSCRIBED: "workers.tasks.send_already_subscribed_email",
}


def celery_dispatcher(celery_app: Celery | None = None) -> Dispatcher:
    """Production: a Celery task per email, retried by the worker if SMTP is down."""
    if celery_app is None:
        from workers.app import app as celery_app
    assert celery_app is not None

    def enqueue(kind: EmailToSend, subscriber_id: int) -> None:
        celery_app.send_task(TASKS[kind], args=[subscriber_id])

    return enqueue


def inline_dispatcher(db: Database, settings: Settings) -> Dispatcher:
    """Trying it out without Redis: send from a background thread of the web process."""

    def send(kind: EmailToSend, subscriber_id: int) -> None:
        try:
            send_subscriber_email(db, settings, kind, subscriber_id)
        except SendError as exc:
            log.warning("%s email for subscriber %d not sent: %s", kind.value, subscriber_id, exc)

    def enqueue(kind: EmailToSend, subscriber_id: int) -> None:
        threading.Thread(target=send, args=(kind, subscriber_id), daemon=True).start()

    return enqueue
