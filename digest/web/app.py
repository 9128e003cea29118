"""The Starlette app: a thin shell over the store that never sends mail itself.

Confirmation emails are handed to `enqueue_confirmation` (a Celery task's `.delay` in
production) only after the database transaction that asked for them has committed.
"""

from __future__ import annotations

import logging
import secrets
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest import links
from digest.addresses import normalise_email
from digest.errors import ConfigError, ExpiredToken, InvalidEmail, InvalidToken
from digest.links import http_url
from digest.rank.entries import EditionEntry
from digest.render.templates import shorten_authors, trend_line
from digest.settings import Settings
from digest.store.db import Database, DatabaseUnavailable
from digest.store.editions import edition_entries, latest_edition
from digest.store.models import Subscriber, SubscriberState
from digest.store.subscribers import (
    EmailToSend,
    InvalidPreference,
    SubscribeOutcome,
    check_timezone,
    confirm_subscription,
    parse_topics,
    request_subscription,
    subscriber_for_token,
    unsubscribe,
)
from digest.tokens import Purpose, TokenSubject, read_token

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "web"
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 20
LANDING_PAPERS = 10
ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"
TIMEZONE_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
# Responses that render no page (JSON, plain text) get the strictest policy; pages get a
# per-response nonce for their one inline <style> and <script> (see Pages.render).
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS = {
    "Content-Security-Policy": DEFAULT_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}

EnqueueConfirmation = Callable[[int], None]


def page_csp(nonce: str) -> str:
    """The Content-Security-Policy of an HTML page whose inline style and script carry `nonce`."""
    return (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    """Add the security headers to every response; forbid caching of pages reached by token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carries_token = b"token=" in scope.get("query_string", b"")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if carries_token:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass(frozen=True)
class PaperCard:
    """One paper as the landing page shows it."""

    rank: int
    title: str
    url: str | None
    authors: str
    trend: str
    code_url: str | None


@dataclass(frozen=True)
class SubscribeForm:
    """The subscribe form's values, as typed (re-shown when something is wrong)."""

    email: str = ""
    topics: str = ""
    timezone: str = ""
    timezone_chosen: bool = False


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


def paper_card(entry: EditionEntry) -> PaperCard:
    return PaperCard(
        rank=entry.rank,
        title=entry.title,
        url=http_url(entry.url),
        authors=shorten_authors(entry.authors),
        trend=trend_line(entry),
        code_url=http_url(entry.code_url),
    )


def human_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def timezone_choices(default: str) -> list[str]:
    """The zones offered in the form: the Area/City names people recognise, plus UTC."""
    zones = {z for z in zoneinfo.available_timezones() if z.split("/", 1)[0] in TIMEZONE_AREAS}
    return sorted(zones | {"UTC", default})


def sentence(text: str) -> str:
    """Capitalise a core error message and end it with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def form_text(form: FormData, name: str) -> str:
    """A text field's value; missing fields and uploaded files count as empty."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def invalid_field(form: SubscribeForm) -> FieldError | None:
    """The first field that cannot be accepted, checked here to point the page at it."""
    try:
        normalise_email(form.email)
    except InvalidEmail as exc:
        return FieldError("email", sentence(str(exc)))
    try:
        parse_topics(form.topics)
    except InvalidPreference as exc:
        return FieldError("topics", sentence(str(exc)))
    if form.timezone.strip():
        try:
            check_timezone(form.timezone)
        except InvalidPreference as exc:
            return FieldError("timezone", sentence(str(exc)))
    return None


class Pages:
    """Renders the Jinja2 templates in templates/web with autoescaping and a CSP nonce."""

    def __init__(self, settings: Settings) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATE_DIR),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(site_name=settings.list_name, root=root_path(settings))

    def render(
        self, name: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any
    ) -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        html = self.env.get_template(name).render(nonce=nonce, **context)
        all_headers = {"Content-Security-Policy": page_csp(nonce), **(headers or {})}
        return HTMLResponse(html, status_code=status, headers=all_headers)

    def message(
        self,
        status: int,
        title: str,
        text: str,
        link: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """A short page explaining what happened; `link` is (url, label) of the way onward."""
        return self.render("message.html", status, headers, title=title, text=text, link=link)


def root_path(settings: Settings) -> str:
    """The path prefix of DIGEST_BASE_URL, so pages still work behind a sub-path proxy."""
    return urlsplit(settings.base_url).path.rstrip("/")


class Site:
    """The route handlers, holding what they need; database work runs in worker threads."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        enqueue_confirmation: EnqueueConfirmation,
        pages: Pages,
    ) -> None:
        self.settings = settings
        self.db = db
        self.enqueue_confirmation = enqueue_confirmation
        self.pages = pages
        self.timezones = timezone_choices(settings.default_timezone)
        self.home = f"{root_path(settings)}/"

    # --- landing and subscribe -------------------------------------------------------------

    async def landing(self, request: Request) -> Response:
        return await self._index(SubscribeForm(timezone=self.settings.default_timezone))

    async def subscribe(self, request: Request) -> Response:
        form = self._subscribe_form(await self._form(request))
        problem = invalid_field(form)
        if problem is not None:
            logger.info("subscription refused: invalid %s", problem.field)
            return await self._index(form, problem, status=422)
        outcome = await run_in_threadpool(self._request_subscription, form)
        logger.info(
            "subscription requested by subscriber %s (confirmation %s)",
            outcome.subscriber_id,
            "due" if outcome.email_to_send else "not due",
        )
        if outcome.email_to_send is EmailToSend.CONFIRMATION and not await self._enqueue(
            outcome.subscriber_id
        ):
            return self.pages.message(
                503,
                "We could not send the email just now",
                "Please try again in a few minutes.",
                (self.home, "Back to the form"),
            )
        return self.pages.render(
            "check_inbox.html", max_age_hours=self.settings.confirm_max_age_hours
        )

    async def _index(
        self, form: SubscribeForm, problem: FieldError | None = None, status: int = 200
    ) -> Response:
        edition_day, papers = await run_in_threadpool(self._latest_papers)
        return self.pages.render(
            "index.html",
            status,
            form=form,
            problem=problem,
            timezones=self.timezones,
            send_hour=self.settings.default_send_hour,
            edition_day=human_date(edition_day) if edition_day else None,
            papers=papers,
        )

    def _subscribe_form(self, form: FormData) -> SubscribeForm:
        timezone = form_text(form, "timezone")
        return SubscribeForm(
            email=form_text(form, "email"),
            topics=form_text(form, "topics"),
            timezone=timezone,
            timezone_chosen=bool(timezone.strip()),
        )

    def _latest_papers(self) -> tuple[date | None, list[PaperCard]]:
        with self.db.session() as session:
            edition = latest_edition(session)
            if edition is None:
                return None, []
            entries = edition_entries(session, edition)[:LANDING_PAPERS]
            return edition.date, [paper_card(entry) for entry in entries]

    def _request_subscription(self, form: SubscribeForm) -> SubscribeOutcome:
        # Returning from inside the session commits before the caller enqueues anything.
        with self.db.session() as session:
            return request_subscription(
                session,
                form.email,
                topics=form.topics,
                timezone=form.timezone,
                default_timezone=self.settings.default_timezone,
                default_send_hour=self.settings.default_send_hour,
            )

    async def _enqueue(self, subscriber_id: int) -> bool:
        try:
            await run_in_threadpool(self.enqueue_confirmation, subscriber_id)
        except Exception:  # broker errors share no base class; none may become a traceback
            logger.exception("could not queue the confirmation for subscriber %s", subscriber_id)
            await run_in_threadpool(self._forget_confirmation, subscriber_id)
            return False
        return True

    def _forget_confirmation(self, subscriber_id: int) -> None:
        # Without this, the 10-minute resend rule would block the retry we ask the user for.
        with self.db.session() as session:
            subscriber = session.get(Subscriber, subscriber_id)
            if subscriber is not None:
                subscriber.confirmation_sent_at = None

    # --- confirm ---------------------------------------------------------------------------

    async def confirm(self, request: Request) -> Response:
        try:
            subject = self._subject(request, Purpose.CONFIRM)
            subscriber = await run_in_threadpool(self._confirm, subject)
        except ExpiredToken:
            return self.pages.message(
                400,
                "This confirmation link has expired",
                f"Confirmation links work for {self.settings.confirm_max_age_hours} hours. "
                "Subscribe again with the same address and we will send you a fresh link.",
                (self.home, "Subscribe again"),
            )
        except InvalidToken as exc:
            return self._bad_link(exc)
        if subscriber.state is not SubscriberState.ACTIVE:
            return self._not_active(subscriber)
        logger.info("subscriber %s confirmed", subscriber.id)
        return self.pages.render(
            "confirmed.html",
            subscriber=subscriber,
            preferences_url=links.preferences_url(self.settings, subscriber.id, subscriber.email),
            unsubscribe_url=links.unsubscribe_url(self.settings, subscriber.id, subscriber.email),
        )

    def _confirm(self, subject: TokenSubject) -> Subscriber:
        with self.db.session() as session:
            return confirm_subscription(session, subject)

    def _not_active(self, subscriber: Subscriber) -> Response:
        if subscriber.state is SubscriberState.UNSUBSCRIBED:
            text = "This address was unsubscribed after the link was sent."
        else:
            text = "Mail to this address bounced or was reported, so we no longer send to it."
        return self.pages.message(
            409,
            "This subscription is not active",
            f"{text} To receive the digest, subscribe again.",
            (self.home, "Subscribe again"),
        )

    # --- unsubscribe -----------------------------------------------------------------------

    async def unsubscribe_page(self, request: Request) -> Response:
        try:
            subject = self._subject(request, Purpose.UNSUBSCRIBE)
            subscriber = await run_in_threadpool(self._subscriber, subject)
        except InvalidToken as exc:
            return self._bad_link(exc)
        token = request.query_params.get("token", "")
        return self.pages.render(
            "unsubscribe.html",
            email=subscriber.email,
            receiving=subscriber.state in (SubscriberState.PENDING, SubscriberState.ACTIVE),
            unsubscribed=subscriber.state is SubscriberState.UNSUBSCRIBED,
            action=f"{root_path(self.settings)}/unsubscribe?{urlencode({'token': token})}",
        )

    async def unsubscribe(self, request: Request) -> Response:
        form = await self._form(request)
        one_click = form_text(form, ONE_CLICK_FIELD) == ONE_CLICK_VALUE
        try:
            subject = self._subject(request, Purpose.UNSUBSCRIBE)
            subscriber = await run_in_threadpool(self._unsubscribe, subject)
        except InvalidToken as exc:
            if one_click:
                return PlainTextResponse(f"{sentence(str(exc))}\n", status_code=400)
            return self._bad_link(exc)
        logger.info(
            "subscriber %s unsubscribed (%s)", subscriber.id, "one-click" if one_click else "page"
        )
        if one_click:
            return PlainTextResponse("You are unsubscribed.\n")
        return self.pages.render("unsubscribed.html", email=subscriber.email)

    def _subscriber(self, subject: TokenSubject) -> Subscriber:
        with self.db.session() as session:
            return subscriber_for_token(session, subject)

    def _unsubscribe(self, subject: TokenSubject) -> Subscriber:
        with self.db.session() as session:
            return unsubscribe(session, subject)

    # --- health and errors -----------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        try:
            await run_in_threadpool(self.db.check)
        except DatabaseUnavailable as exc:
            logger.warning("health check failed: %s", exc)
            return JSONResponse(
                {"status": "unavailable", "reason": "database unreachable"},
                status_code=503,
                headers={"Cache-Control": "no-store"},
            )
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """404, 405, 413 and malformed forms as a page instead of a bare status line."""
        assert isinstance(exc, HTTPException)
        texts = {
            404: "There is no page at this address.",
            405: "This page does not accept that kind of request.",
            413: "What was sent is too large. Please shorten it and try again.",
        }
        text = texts.get(exc.status_code) or sentence(str(exc.detail))
        return self.pages.message(
            exc.status_code,
            HTTPStatus(exc.status_code).phrase,
            text,
            (self.home, "Go to the home page"),
            headers=dict(exc.headers or {}),
        )

    async def database_error(self, request: Request, exc: Exception) -> Response:
        # The exception text can quote SQL parameters (addresses), so only its type is logged.
        logger.error(
            "database error on %s %s: %s", request.method, request.url.path, type(exc).__name__
        )
        return self.pages.message(
            503,
            "Temporarily unavailable",
            "We cannot reach our database right now. Please try again in a few minutes.",
        )

    # --- helpers ---------------------------------------------------------------------------

    def _subject(self, request: Request, purpose: Purpose) -> TokenSubject:
        max_age = self.settings.confirm_max_age_hours * 3600 if purpose is Purpose.CONFIRM else None
        token = request.query_params.get("token", "")
        return read_token(self.settings.secret_key, purpose, token, max_age_seconds=max_age)

    def _bad_link(self, exc: InvalidToken) -> Response:
        return self.pages.message(
            400,
            "This link does not work",
            f"{sentence(str(exc))} Please use the exact link from the email.",
            (self.home, "Go to the home page"),
        )

    async def _form(self, request: Request) -> FormData:
        # The body size is capped by the route (MAX_FORM_BYTES -> 413); no uploads accepted.
        return await request.form(
            max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_BYTES
        )


def create_app(
    settings: Settings, db: Database, enqueue_confirmation: EnqueueConfirmation
) -> Starlette:
    """The web app; `enqueue_confirmation(subscriber_id)` is called after each commit that
    asks for a confirmation email."""
    if not settings.secret_key:
        raise ConfigError("the web app needs a secret key (use load_settings())")
    site = Site(settings, db, enqueue_confirmation, Pages(settings))
    routes = [
        Route("/", site.landing, methods=["GET"], name="landing"),
        Route("/subscribe", site.subscribe, methods=["POST"], max_body_size=MAX_FORM_BYTES),
        Route("/confirm", site.confirm, methods=["GET"]),
        Route("/unsubscribe", site.unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe", site.unsubscribe, methods=["POST"], max_body_size=MAX_FORM_BYTES),
        Route("/healthz", site.healthz, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeadersMiddleware)],
        exception_handlers={
            HTTPException: site.http_error,
            OperationalError: site.database_error,
            DatabaseUnavailable: site.database_error,
        },
    )
