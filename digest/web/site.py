"""What every page needs: settings, store, renderer, CSRF, limits and the outbox kick."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive

from digest import links
from digest.errors import InvalidToken
from digest.pipeline.notices import Kick
from digest.settings import Settings, WebSettings
from digest.store.db import Database
from digest.store.models import Subscriber
from digest.tokens import Purpose, TokenSubject, read_token
from digest.web.inputs import announces_more_than, check_form
from digest.web.pages import Pages, root_path, sentence
from digest.web.request_limits import SubscribeLimits
from digest.web.security import CSRF_FIELD, Csrf

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 20
T = TypeVar("T")


def form_text(form: FormData, name: str) -> str:
    """A text field's value; missing fields and uploaded files count as empty."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


@dataclass
class Site:
    """Shared by the page modules; database work runs in worker threads."""

    settings: Settings
    db: Database
    pages: Pages
    csrf: Csrf
    kick: Kick
    limits: SubscribeLimits
    web: WebSettings = field(init=False)  # the web's own part of the settings
    root: str = field(init=False)
    home: str = field(init=False)

    def __post_init__(self) -> None:
        self.web = self.settings.web
        self.root = root_path(self.web)
        self.home = f"{self.root}/"

    async def in_thread(self, func: Callable[..., T], *args: object) -> T:
        return await run_in_threadpool(func, *args)

    async def form(self, request: Request) -> FormData:
        """The posted form, at most MAX_FORM_BYTES (else our 413 page), no uploads, each
        field once and free of control characters (else UnsafeInput, a 400 page)."""
        declared = request.headers.get("content-length", "")
        if announces_more_than(declared, MAX_FORM_BYTES):
            raise HTTPException(413)
        capped = Request(request.scope, capped_receive(request.receive, MAX_FORM_BYTES))
        form = await capped.form(
            max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_BYTES
        )
        check_form(form)
        return form

    async def upload_form(self, request: Request, max_bytes: int) -> FormData:
        """A posted form that may carry one file: at most `max_bytes` for the file plus
        MAX_FORM_BYTES for the rest (else our 413 page), checked like `form`, then CSRF."""
        limit = max_bytes + MAX_FORM_BYTES
        if announces_more_than(request.headers.get("content-length", ""), limit):
            raise HTTPException(413)
        capped = Request(request.scope, capped_receive(request.receive, limit))
        form = await capped.form(max_files=1, max_fields=MAX_FORM_FIELDS, max_part_size=limit)
        check_form(form)
        self.csrf.check(request, form_text(form, CSRF_FIELD))
        return form

    async def checked_form(self, request: Request) -> FormData:
        """The form of a state-changing POST, after the CSRF check (CsrfRefused -> 403)."""
        form = await self.form(request)
        self.csrf.check(request, form_text(form, CSRF_FIELD))
        return form

    def subject(
        self, request: Request, purpose: Purpose, *, ignore_age: bool = False
    ) -> TokenSubject:
        """The subscriber a link's token names; only confirmation links expire."""
        expires = purpose is Purpose.CONFIRM and not ignore_age
        max_age = self.web.confirm_max_age_hours * 3600 if expires else None
        token = request.query_params.get("token", "")
        return read_token(self.web.secret_key, purpose, token, max_age_seconds=max_age)

    def bad_link(self, request: Request, exc: InvalidToken) -> Response:
        return self.pages.message(
            request,
            400,
            "This link does not work",
            f"{sentence(str(exc))} Please use the exact link from the email.",
            (self.home, "Go to the home page"),
        )

    def subscribed_page(self, request: Request, subscriber: Subscriber) -> Response:
        """ "You're subscribed", with the reader's preferences and unsubscribe links."""
        return self.pages.render(
            request,
            "confirmed.html",
            subscriber=subscriber,
            preferences_url=links.preferences_url(self.settings, subscriber.id, subscriber.email),
            unsubscribe_url=links.unsubscribe_url(self.settings, subscriber.id, subscriber.email),
        )

    async def kick_outbox(self) -> None:
        """Say the outbox has something (after the commit that queued it); never fails the
        request: the email is stored, and a sweep sends it if this kick is lost."""
        try:
            await run_in_threadpool(self.kick)
        except Exception as exc:  # broker errors share no base class; none may be a traceback
            # Only the type: a broker error's text can quote its URL, password included.
            log.warning("could not announce a queued email: %s", type(exc).__name__)


def capped_receive(receive: Receive, limit: int) -> Receive:
    """`receive`, raising HTTPException(413) once the body (chunked or not) exceeds `limit`."""
    seen = 0

    async def receive_capped() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise HTTPException(413)
        return message

    return receive_capped
