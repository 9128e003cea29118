"""Error pages instead of bare status lines or tracebacks, and the health check."""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from digest.store.db import DatabaseUnavailable
from digest.web.pages import sentence
from digest.web.site import Site

log = logging.getLogger(__name__)


class ErrorPages:
    """Handlers for HTTP errors, refused CSRF checks and an unreachable database."""

    def __init__(self, site: Site) -> None:
        self.site = site

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """404, 405, 413 and malformed forms as a page."""
        assert isinstance(exc, HTTPException)
        texts = {
            404: "There is no page at this address.",
            405: "This page does not accept that kind of request.",
            413: "What was sent is too large. Please shorten it and try again.",
        }
        text = texts.get(exc.status_code) or sentence(str(exc.detail))
        return self.site.pages.message(
            request,
            exc.status_code,
            HTTPStatus(exc.status_code).phrase,
            text,
            (self.site.home, "Go to the home page"),
            headers=dict(exc.headers or {}),
        )

    async def csrf_refused(self, request: Request, exc: Exception) -> Response:
        log.warning("form refused on %s: %s", request.url.path, exc)
        return self.site.pages.message(
            request,
            403,
            "This form has expired",
            "For your safety we only accept forms sent from this site's own pages. Go back, "
            "reload the page and try again.",
            (self.site.home, "Go to the home page"),
        )

    async def database_error(self, request: Request, exc: Exception) -> Response:
        # The exception text can quote SQL parameters (addresses), so only its type is logged.
        log.error(
            "database error on %s %s: %s", request.method, request.url.path, type(exc).__name__
        )
        return self.site.pages.message(
            request,
            503,
            "Temporarily unavailable",
            "We cannot reach our database right now. Please try again in a few minutes.",
        )

    async def healthz(self, request: Request) -> Response:
        try:
            await self.site.in_thread(self.site.db.check)
        except DatabaseUnavailable as exc:
            log.warning("health check failed: %s", exc)
            return JSONResponse(
                {"status": "unavailable", "reason": "database unreachable"},
                status_code=503,
                headers={"Cache-Control": "no-store"},
            )
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})
