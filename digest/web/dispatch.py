"""How the web hands a confirmation email to be sent: to Celery, or to a local thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from celery import Celery

from digest.errors import SendError
from digest.mail.confirmations import send_confirmation
from digest.settings import Settings
from digest.store.db import Database

log = logging.getLogger(__name__)

Dispatcher = Callable[[int], None]
CONFIRMATION_TASK = "workers.tasks.send_confirmation_email"


def celery_dispatcher(celery_app: Celery | None = None) -> Dispatcher:
    """Production: a Celery task, retried by the worker if SMTP is down."""
    if celery_app is None:
        from workers.app import app as celery_app
    assert celery_app is not None

    def enqueue(subscriber_id: int) -> None:
        celery_app.send_task(CONFIRMATION_TASK, args=[subscriber_id])

    return enqueue


def inline_dispatcher(db: Database, settings: Settings) -> Dispatcher:
    """Trying it out without Redis: send from a background thread of the web process."""

    def send(subscriber_id: int) -> None:
        try:
            send_confirmation(db, settings, subscriber_id)
        except SendError as exc:
            log.warning("confirmation for subscriber %d not sent: %s", subscriber_id, exc)

    def enqueue(subscriber_id: int) -> None:
        threading.Thread(target=send, args=(subscriber_id,), daemon=True).start()

    return enqueue
