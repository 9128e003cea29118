"""How the web asks the Celery worker to send the outbox: one task, no arguments."""

from __future__ import annotations

import logging
import time

from celery import Celery

from digest.pipeline.notices import Kick

log = logging.getLogger(__name__)

SEND_OUTBOX_TASK = "workers.tasks.send_outbox_emails"
QUIET_SECONDS = 300.0  # one warning per this long while the broker is down
RETRY_BROKER_SECONDS = 30.0  # after a failed publish, go straight to the fallback this long


def celery_kick(celery_app: Celery | None = None, *, fallback: Kick | None = None) -> Kick:
    """A kick that enqueues the send task; when the broker does not answer, `fallback`
    (the web process's own sender) is kicked instead, so the email still leaves."""
    if celery_app is None:
        from workers.app import app as celery_app
    assert celery_app is not None
    last_warning = float("-inf")
    last_failure = float("-inf")

    def kick() -> None:
        nonlocal last_warning, last_failure
        # While the broker is known to be down, a request does not wait for its timeouts.
        if fallback is not None and time.monotonic() - last_failure < RETRY_BROKER_SECONDS:
            fallback()
            return
        try:
            # No publish retries: a request must not wait on a dead broker; the fallback sends.
            celery_app.send_task(SEND_OUTBOX_TASK, retry=False)
        except Exception as exc:  # kombu and redis errors share no base class
            if fallback is None:
                raise
            last_failure = time.monotonic()
            if last_failure - last_warning >= QUIET_SECONDS:
                last_warning = last_failure
                log.warning(
                    "broker unavailable (%s): sending from the web process", type(exc).__name__
                )
            fallback()

    return kick
