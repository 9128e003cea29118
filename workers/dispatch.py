"""How the web asks the Celery worker to send the outbox: one task, no arguments.

The asking happens on a thread of its own: a request never waits on the broker, even
while a dead one takes seconds to refuse a connection.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import Celery

from digest.pipeline.notices import Kick

log = logging.getLogger(__name__)

SEND_OUTBOX_TASK = "workers.tasks.send_outbox_emails"
QUIET_SECONDS = 300.0  # one warning per this long while the broker is down
RETRY_BROKER_SECONDS = 30.0  # after a failed publish, go straight to the fallback this long


class CeleryAnnouncer:
    """Enqueues the send task; when the broker does not answer, kicks `fallback` (the web
    process's own sender) instead, so the email still leaves."""

    def __init__(self, celery_app: Celery, fallback: Kick | None) -> None:
        self.celery_app = celery_app
        self.fallback = fallback
        self._last_warning = float("-inf")
        self._last_failure = float("-inf")
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def announce(self) -> None:
        """Ask once, now, in this thread."""
        if (
            self.fallback is not None
            and time.monotonic() - self._last_failure < RETRY_BROKER_SECONDS
        ):
            self.fallback()  # the broker was down a moment ago: do not wait on it again
            return
        try:
            self.celery_app.send_task(SEND_OUTBOX_TASK, retry=False)
        except Exception as exc:  # kombu and redis errors share no base class
            if self.fallback is None:
                raise
            self._last_failure = time.monotonic()
            if self._last_failure - self._last_warning >= QUIET_SECONDS:
                self._last_warning = self._last_failure
                log.warning(
                    "broker unavailable (%s): sending from the web process", type(exc).__name__
                )
            self.fallback()

    def kick(self) -> None:
        """Ask soon, from the announcer's thread; returns at once."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="announcer", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                self.announce()
            except Exception as exc:  # no fallback: the sweeps send it later
                log.warning("could not announce a queued email: %s", type(exc).__name__)


def celery_kick(celery_app: Celery | None = None, *, fallback: Kick | None = None) -> Kick:
    """The web's kick in production: enqueue the send task from a background thread,
    falling back to `fallback` while the broker is down."""
    if celery_app is None:
        from workers.app import app as celery_app
    assert celery_app is not None
    return CeleryAnnouncer(celery_app, fallback).kick
