"""The web app built from the environment, for `uvicorn --factory` and multi-process serving."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from digest.settings import get_settings
from digest.store.db import Database
from digest.web.app import create_app
from digest.web.dispatch import celery_dispatcher, inline_dispatcher

SEND_INLINE = "DIGEST_SERVE_SEND_INLINE"


def application() -> Starlette:
    """`digest serve`'s app: settings from DIGEST_*, emails handed to Celery (or, with
    DIGEST_SERVE_SEND_INLINE=1, sent from a thread of this process)."""
    settings = get_settings()
    database = Database(settings.database_url)
    if os.environ.get(SEND_INLINE) == "1":
        return create_app(settings, database, inline_dispatcher(database, settings))
    return create_app(settings, database, celery_dispatcher())
