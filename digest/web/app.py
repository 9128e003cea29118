"""The Starlette app: a thin shell over the store and the pipeline.

Emails the pages ask for are rows of the outbox, written in the transaction of the change;
after the commit the app calls `kick()` (a Celery task, or this process's own sender), and
`outbox`, when given, sends from this process on its own schedule too, so no email waits
for a broker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from digest.errors import ConfigError
from digest.pipeline.notices import Kick, LocalOutbox
from digest.settings import Settings
from digest.store.db import Database, DatabaseUnavailable
from digest.web.admin import AdminPages
from digest.web.archive import ArchivePages
from digest.web.assets import SiteAssets
from digest.web.compression import Compression
from digest.web.errors import ErrorPages, RequestGuard
from digest.web.feedback import FeedbackPages
from digest.web.feeds import FeedRoutes
from digest.web.inputs import UnsafeInput
from digest.web.metrics import metrics_routes
from digest.web.pages import Pages, root_path
from digest.web.preferences import PreferencesPages
from digest.web.ratings import RatingsPage
from digest.web.request_limits import RateLimiter, SubscribeLimits, limiter_for
from digest.web.security import Csrf, CsrfRefused, SecurityHeadersMiddleware
from digest.web.site import MAX_FORM_BYTES, Site
from digest.web.subscribe import SubscribePages
from digest.web.tastes import TastePages
from digest.web.unsubscribe import UnsubscribePages
from digest.web.webhooks import webhook_routes

__all__ = ["MAX_FORM_BYTES", "create_app"]


def create_app(
    settings: Settings,
    db: Database,
    kick: Kick,
    *,
    limiter: RateLimiter | None = None,
    outbox: LocalOutbox | None = None,
) -> Starlette:
    """The web app; `kick()` is called after each commit that queues an email, `outbox`
    (started and stopped with the app) sends from this process, and `limiter` (default:
    Redis at DIGEST_REDIS_URL, else a counter in this process) counts subscribe requests."""
    web = settings.web
    if not web.secret_key:
        raise ConfigError("the web app needs a secret key (use load_settings())")
    csrf = Csrf(web.secret_key, root_path(web) or "/")
    site = Site(
        settings=settings,
        db=db,
        pages=Pages(web, csrf),
        csrf=csrf,
        kick=kick,
        limits=SubscribeLimits(web, limiter or limiter_for(web)),
    )
    errors = ErrorPages(site)
    preferences = PreferencesPages(site)
    routes = [
        *SubscribePages(site).routes(),
        *UnsubscribePages(site).routes(),
        *preferences.routes(),
        *TastePages(preferences).routes(),
        *FeedbackPages(site).routes(),
        *RatingsPage(site).routes(),
        *ArchivePages(site).routes(),
        *FeedRoutes(site).routes(),
        *AdminPages(site).routes(),
        Route("/healthz", errors.healthz, methods=["GET"]),
        *metrics_routes(db),
        *webhook_routes(settings, db),
        *SiteAssets(root_path(web)).routes(),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if outbox is not None:
            outbox.start()
        try:
            yield
        finally:
            if outbox is not None:
                outbox.stop()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        # The guard inside the headers and compression: its 400 and 500 pages get them like
        # any other.
        middleware=[
            Middleware(SecurityHeadersMiddleware, https=web.base_url.startswith("https://")),
            Middleware(Compression),
            Middleware(RequestGuard, errors=errors),
        ],
        exception_handlers={
            HTTPException: errors.http_error,
            UnsafeInput: errors.unsafe_input,
            CsrfRefused: errors.csrf_refused,
            OperationalError: errors.database_error,
            DatabaseUnavailable: errors.database_error,
        },
    )
    # A redirect built from the request's own path and Host is one step from an open redirect.
    app.router.redirect_slashes = False
    return app
