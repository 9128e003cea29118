"""Error pages instead of bare status lines or tracebacks, the guard that makes sure of it,
and the health check."""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.store.db import DatabaseUnavailable
from digest.web.inputs import UnsafeInput, check_query
from digest.web.pages import sentence
from digest.web.site import Site

log = logging.getLogger(__name__)

# If even the styled page cannot be built, this one still answers (the headers are added
# on the way out like on any other response).
PLAIN_500 = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Something went wrong</title>"
    "<h1>Something went wrong</h1><p>Please try again in a few minutes.</p></html>"
)


def route_of(scope: Scope) -> str:
    """`METHOD /route/{template}` of a request, for logs: the template, never the path
    itself (a path, like a query, is whatever the client sent)."""
    method = str(scope.get("method", "?"))
    app = scope.get("app")
    routes: list[BaseRoute] = list(getattr(getattr(app, "router", None), "routes", []))
    for route in routes:
        if isinstance(route, Route) and route.matches(scope)[0] is not Match.NONE:
            return f"{method} {route.path}"
    return f"{method} (no route)"


def raised_at(exc: BaseException) -> str:
    """`file.py:line in function` of the frame that raised `exc`: code, never data."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown place"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


class ErrorPages:
    """Handlers for HTTP errors, refused input and CSRF checks, an unreachable database and
    anything unexpected."""

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

    async def unsafe_input(self, request: Request, exc: Exception) -> Response:
        # The reason names a kind of character, never the value.
        log.info("request refused on %s: %s", route_of(request.scope), exc)
        return self.site.pages.message(
            request,
            400,
            "This request cannot be read",
            f"{sentence(str(exc))} Please use the exact link from the email, or type the form "
            "again.",
            (self.site.home, "Go to the home page"),
        )

    async def csrf_refused(self, request: Request, exc: Exception) -> Response:
        log.warning("form refused on %s: %s", route_of(request.scope), exc)
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
        log.error("database error on %s: %s", route_of(request.scope), type(exc).__name__)
        return self.site.pages.message(
            request,
            503,
            "Temporarily unavailable",
            "We cannot reach our database right now. Please try again in a few minutes.",
        )

    def unexpected(self, request: Request) -> Response:
        """The 500 page; the plain one if even rendering fails."""
        try:
            return self.site.pages.message(
                request,
                500,
                "Something went wrong",
                "This request failed on our side, and we have noted it. Please try again in a "
                "few minutes.",
                (self.site.home, "Go to the home page"),
            )
        except Exception as exc:  # the last resort may not fail in turn
            log.error("the error page failed too: %s", type(exc).__name__)
            return HTMLResponse(PLAIN_500, status_code=500)

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


class OneLineTracebacks(logging.Filter):
    """A server log record's traceback becomes its exception's type: an exception's text
    (a database error's quoted parameters, say) can hold what the request sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            kind = type(record.exc_info[1]).__name__
            record.msg = f"{record.getMessage().strip()} ({kind})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_server_tracebacks(logger_name: str = "uvicorn.error") -> None:
    """Keep tracebacks out of the web server's own log, in case anything ever gets past
    RequestGuard (it catches everything a request raises)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, OneLineTracebacks) for f in logger.filters):
        logger.addFilter(OneLineTracebacks())


class RequestGuard:
    """Refuse an unsafe query before any handler reads it, and turn whatever a handler
    raises into the 500 page and one log line (exception type and route: an exception's
    text and traceback can quote the query, the form or a token).

    Nothing escapes to Starlette's or uvicorn's handlers, which would log the traceback
    and answer without our headers; a client gone mid-upload is one quiet line.
    """

    def __init__(self, app: ASGIApp, errors: ErrorPages) -> None:
        self.app = app
        self.errors = errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_query(scope.get("query_string", b""))
        except UnsafeInput as exc:
            refused = await self.errors.unsafe_input(Request(scope), exc)
            await refused(scope, receive, send)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except ClientDisconnect:
            # Nobody is left to answer; uvicorn says nothing more about a gone client.
            log.info("client left before its request was read, on %s", route_of(scope))
        except Exception as exc:  # the last line of defence: anything at all
            log.error(
                "unexpected %s on %s (raised at %s)",
                type(exc).__name__,
                route_of(scope),
                raised_at(exc),
            )
            if not started:
                await self.errors.unexpected(Request(scope))(scope, receive, send)
