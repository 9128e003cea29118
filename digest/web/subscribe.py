"""Landing page, POST /subscribe and the confirmation link (with its resend offer)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.addresses import normalise_email
from digest.errors import ExpiredToken, InvalidEmail, InvalidToken
from digest.pipeline.emails import CONFIRMATION_EMAIL
from digest.pipeline.landing import landing_papers
from digest.preferences import InvalidPreference, check_timezone, parse_topics
from digest.store.models import Subscriber, SubscriberState
from digest.store.subscribers import (
    confirm_subscription,
    may_confirm,
    request_subscription,
    resend_confirmation,
    subscriber_for_token,
)
from digest.store.types import utcnow
from digest.tokens import Purpose, TokenSubject
from digest.web.pages import (
    PaperCard,
    human_date,
    paper_card,
    sentence,
    timezone_choices,
    with_token,
)
from digest.web.security import client_ip
from digest.web.site import Site, form_text

log = logging.getLogger(__name__)

LANDING_PAPERS = 10
HONEYPOT_FIELD = "website"


@dataclass(frozen=True)
class SubscribeForm:
    """The subscribe form's values, as typed (re-shown when something is wrong)."""

    email: str = ""
    topics: str = ""
    timezone: str = ""
    timezone_chosen: bool = False


@dataclass(frozen=True)
class LatestPapers:
    """The landing page's papers: the latest edition's head, or today's ranking before one."""

    day: str
    papers: list[PaperCard]
    sample: bool
    edition_url: str | None  # the whole edition in the archive, once it is frozen


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


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


def valid_email(raw: str) -> str | None:
    try:
        return normalise_email(raw)
    except InvalidEmail:
        return None


class SubscribePages:
    """GET /, POST /subscribe, GET and POST /confirm, POST /confirm/resend."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.timezones = timezone_choices(site.settings.web.default_timezone)

    def routes(self) -> list[Route]:
        return [
            Route("/", self.landing, methods=["GET"], name="landing"),
            Route("/subscribe", self.subscribe, methods=["POST"]),
            Route("/confirm", self.confirm_page, methods=["GET"]),
            Route("/confirm", self.confirm, methods=["POST"]),
            Route("/confirm/resend", self.resend, methods=["POST"]),
        ]

    # --- landing and subscribe -------------------------------------------------------------

    async def landing(self, request: Request) -> Response:
        return await self._index(
            request, SubscribeForm(timezone=self.site.settings.web.default_timezone)
        )

    async def subscribe(self, request: Request) -> Response:
        raw = await self.site.checked_form(request)
        form = self._subscribe_form(raw)
        email = valid_email(form.email)
        if not await self.site.in_thread(self.site.limits.allow, client_ip(request), email):
            log.info("subscription refused: rate limit")
            return self._too_many(request)
        if form_text(raw, HONEYPOT_FIELD):
            log.info("subscription ignored: honeypot field filled")
            return self._check_inbox(request)
        problem = invalid_field(form)
        if problem is not None:
            log.info("subscription refused: invalid %s", problem.field)
            return await self._index(request, form, problem, status=422)
        await self.site.in_thread(self._request_subscription, form)
        log.info("subscription requested")
        await self.site.kick_outbox()
        return self._check_inbox(request)

    def _check_inbox(self, request: Request) -> Response:
        return self.site.pages.render(
            request, "check_inbox.html", max_age_hours=self.site.web.confirm_max_age_hours
        )

    def _too_many(self, request: Request) -> Response:
        window_minutes = max(1, self.site.settings.web.rate_limit_window_seconds // 60)
        return self.site.pages.message(
            request,
            429,
            "Too many requests",
            f"This form was sent too often. Please try again in {window_minutes} minutes.",
            (self.site.home, "Back to the home page"),
            headers={"Retry-After": str(self.site.settings.web.rate_limit_window_seconds)},
        )

    async def _index(
        self,
        request: Request,
        form: SubscribeForm,
        problem: FieldError | None = None,
        status: int = 200,
    ) -> Response:
        latest = await self.site.in_thread(self._latest_papers)
        return self.site.pages.render(
            request,
            "index.html",
            status,
            form=form,
            problem=problem,
            timezones=self.timezones,
            send_hour=self.site.settings.web.default_send_hour,
            latest=latest,
        )

    def _subscribe_form(self, form: FormData) -> SubscribeForm:
        timezone = form_text(form, "timezone")
        return SubscribeForm(
            email=form_text(form, "email"),
            topics=form_text(form, "topics"),
            timezone=timezone,
            timezone_chosen=bool(timezone.strip()),
        )

    def _latest_papers(self) -> LatestPapers | None:
        found = landing_papers(self.site.db, self.site.settings.ranking, utcnow(), LANDING_PAPERS)
        if found is None:
            return None
        archive_url = f"{self.site.root}/archive/{found.day.isoformat()}"
        return LatestPapers(
            day=human_date(found.day),
            papers=[paper_card(entry) for entry in found.entries],
            sample=found.is_sample,
            edition_url=archive_url if found.in_archive else None,
        )

    def _request_subscription(self, form: SubscribeForm) -> None:
        # Every request names its timezone (the default if none was chosen): confirming
        # applies the request's own choice, never one a row was created with by another.
        timezone = form.timezone.strip() or self.site.settings.web.default_timezone
        # The session commits on leaving the block, before the caller kicks the outbox.
        with self.site.db.session() as session:
            request_subscription(session, form.email, topics=form.topics, timezone=timezone)

    # --- confirm ---------------------------------------------------------------------------

    async def confirm_page(self, request: Request) -> Response:
        """GET (and HEAD): the address and a Confirm button; link scanners change nothing."""
        try:
            subject = self.site.subject(request, Purpose.CONFIRM)
            subscriber, confirmable = await self.site.in_thread(self._subscriber, subject)
        except ExpiredToken:
            return self._expired(request)
        except InvalidToken as exc:
            return self._link_problem(request, 400, "This link does not work", sentence(str(exc)))
        if subscriber.state is SubscriberState.ACTIVE:
            return self.site.subscribed_page(request, subscriber)
        if not confirmable:
            return self._not_active(request, subscriber)
        token = request.query_params.get("token", "")
        return self.site.pages.render(
            request,
            "confirm.html",
            email=subscriber.email,
            action=with_token(f"{self.site.root}/confirm", token),
        )

    async def confirm(self, request: Request) -> Response:
        """POST: activate the subscription."""
        await self.site.checked_form(request)
        try:
            subject = self.site.subject(request, Purpose.CONFIRM)
            subscriber = await self.site.in_thread(self._confirm, subject)
        except ExpiredToken:
            return self._expired(request)
        except InvalidToken as exc:
            return self._link_problem(request, 400, "This link does not work", sentence(str(exc)))
        if subscriber.state is not SubscriberState.ACTIVE:
            return self._not_active(request, subscriber)
        log.info("subscriber %s confirmed", subscriber.id)
        return self.site.subscribed_page(request, subscriber)

    async def resend(self, request: Request) -> Response:
        await self.site.checked_form(request)
        if not await self.site.in_thread(self.site.limits.allow, client_ip(request), None):
            return self._too_many(request)
        try:
            subject = self.site.subject(request, Purpose.CONFIRM, ignore_age=True)
            queued = await self.site.in_thread(self._resend, subject)
        except InvalidToken as exc:
            return self._link_problem(request, 400, "This link does not work", sentence(str(exc)))
        if queued:
            await self.site.kick_outbox()
        return self._check_inbox(request)

    def _expired(self, request: Request) -> Response:
        hours = self.site.web.confirm_max_age_hours
        text = f"Confirmation links work for {hours} hours, and this one is older."
        try:
            self.site.subject(request, Purpose.CONFIRM, ignore_age=True)
        except InvalidToken:
            return self._link_problem(request, 400, "This confirmation link has expired", text)
        token = request.query_params.get("token", "")
        return self.site.pages.render(
            request,
            "link_problem.html",
            400,
            title="This confirmation link has expired",
            text=text,
            resend_action=with_token(f"{self.site.root}/confirm/resend", token),
        )

    def _link_problem(self, request: Request, status: int, title: str, text: str) -> Response:
        return self.site.pages.render(
            request, "link_problem.html", status, title=title, text=text, resend_action=None
        )

    def _confirm(self, subject: TokenSubject) -> Subscriber:
        with self.site.db.session() as session:
            return confirm_subscription(session, subject)

    def _resend(self, subject: TokenSubject) -> bool:
        with self.site.db.session() as session:
            return resend_confirmation(session, subject, CONFIRMATION_EMAIL)

    def _subscriber(self, subject: TokenSubject) -> tuple[Subscriber, bool]:
        with self.site.db.session() as session:
            subscriber = subscriber_for_token(session, subject)
            return subscriber, may_confirm(session, subscriber, subject.request_id)

    def _not_active(self, request: Request, subscriber: Subscriber) -> Response:
        if subscriber.state is SubscriberState.UNSUBSCRIBED:
            text = "This address was unsubscribed after the link was sent."
        else:
            text = "Mail to this address bounced or was reported, so we no longer send to it."
        return self.site.pages.message(
            request,
            409,
            "This subscription is not active",
            f"{text} To receive the digest, subscribe again.",
            (self.site.home, "Subscribe again"),
        )
