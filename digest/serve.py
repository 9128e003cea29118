"""`digest serve`'s app, built from the environment in each web process (uvicorn factory).

This is where the web meets the workers: emails the pages ask for go to the Celery worker,
or, with DIGEST_SERVE_SEND_INLINE=1, are sent from a thread of the web process.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from digest.pipeline.notices import inline_dispatcher
from digest.settings import get_settings
from digest.store.db import Database
from digest.web.app import create_app

SEND_INLINE = "DIGEST_SERVE_SEND_INLINE"


def application() -> Starlette:
    settings = get_settings()
    database = Database(settings.database_url)
    if os.environ.get(SEND_INLINE) == "1":
        return create_app(settings, database, inline_dispatcher(database, settings))
    from workers.dispatch import celery_dispatcher

    return create_app(settings, database, celery_dispatcher())
