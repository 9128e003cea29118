"""`digest serve`'s app, built from the environment in each web process (uvicorn factory).

This is where the web meets the workers. Every email a page asks for is in the outbox; the
web process sends it itself (soon after the request, and on a sweep every
DIGEST_OUTBOX_SWEEP_SECONDS), and when a Celery broker answers, a worker is asked to
send it right away. So `digest serve` alone, without Redis, is a whole service.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from digest.pipeline.notices import LocalOutbox
from digest.settings import get_settings
from digest.store.db import Database
from digest.web.app import create_app
from digest.web.errors import quiet_server_tracebacks

SEND_INLINE = "DIGEST_SERVE_SEND_INLINE"


def application() -> Starlette:
    # uvicorn has set up its logging by the time it calls this factory, in every worker.
    quiet_server_tracebacks()
    settings = get_settings()
    database = Database(settings.database_url)
    outbox = LocalOutbox(database, settings, settings.outbox_sweep_seconds)
    if os.environ.get(SEND_INLINE) == "1":
        return create_app(settings, database, outbox.kick, outbox=outbox)
    from workers.dispatch import celery_kick

    return create_app(settings, database, celery_kick(fallback=outbox.kick), outbox=outbox)
