"""Unsubscribe: a page with the button and two gentler ways out (weekly, fewer papers), the
RFC 8058 one-click POST, and resubscribe."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from digest import links
from digest.errors import InvalidToken
from digest.preferences import Frequency, Preferences
from digest.store.models import Subscriber, SubscriberState
from digest.store.subscribers import (
    preferences_of,
    resubscribe,
    subscriber_for_token,
    unsubscribe,
    update_preferences,
)
from digest.tokens import Purpose, TokenSubject
from digest.web.pages import sentence, with_token
from digest.web.security import CSRF_FIELD
from digest.web.site import Site, form_text

log = logging.getLogger(__name__)

ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"
RECEIVING = (SubscriberState.PENDING, SubscriberState.ACTIVE)
Change = Callable[[Preferences], Preferences]


def fewer_papers(size: int) -> int:
    """The smaller edition the unsubscribe page offers: half, at least one."""
    return max(1, size // 2)


def weekly(prefs: Preferences) -> Preferences:
    return replace(prefs, frequency=Frequency.WEEKLY)


def fewer(prefs: Preferences) -> Preferences:
    return replace(prefs, edition_size=fewer_papers(prefs.edition_size))


class UnsubscribePages:
    """GET|POST /unsubscribe, POST /unsubscribe/weekly and /unsubscribe/fewer, and POST
    /resubscribe, all by the unsubscribe token (no expiry)."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [
            Route("/unsubscribe", self.page, methods=["GET"]),
            Route("/unsubscribe", self.unsubscribe, methods=["POST"]),
            Route("/unsubscribe/weekly", self.weekly, methods=["POST"]),
            Route("/unsubscribe/fewer", self.fewer, methods=["POST"]),
            Route("/resubscribe", self.resubscribe, methods=["POST"]),
        ]

    async def page(self, request: Request) -> Response:
        try:
            subject = self.site.subject(request, Purpose.UNSUBSCRIBE)
            subscriber = await self.site.in_thread(self._subscriber, subject)
        except InvalidToken as exc:
            return self.site.bad_link(request, exc)
        token = request.query_params.get("token", "")
        return self.site.pages.render(
            request,
            "unsubscribe.html",
            email=subscriber.email,
            receiving=subscriber.state in RECEIVING,
            unsubscribed=subscriber.state is SubscriberState.UNSUBSCRIBED,
            daily=subscriber.frequency is Frequency.DAILY,
            send_weekday=subscriber.send_weekday,
            edition_size=subscriber.edition_size,
            fewer_size=fewer_papers(subscriber.edition_size),
            action=with_token(f"{self.site.root}/unsubscribe", token),
            weekly_action=with_token(f"{self.site.root}/unsubscribe/weekly", token),
            fewer_action=with_token(f"{self.site.root}/unsubscribe/fewer", token),
            resubscribe_action=with_token(f"{self.site.root}/resubscribe", token),
        )

    async def unsubscribe(self, request: Request) -> Response:
        form = await self.site.form(request)
        # The one-click POST comes from a mail client, not a page: the token is its authority.
        one_click = form_text(form, ONE_CLICK_FIELD) == ONE_CLICK_VALUE
        if not one_click:
            self.site.csrf.check(request, form_text(form, CSRF_FIELD))
        try:
            subject = self.site.subject(request, Purpose.UNSUBSCRIBE)
            subscriber = await self.site.in_thread(self._unsubscribe, subject)
        except InvalidToken as exc:
            if one_click:
                return PlainTextResponse(f"{sentence(str(exc))}\n", status_code=400)
            return self.site.bad_link(request, exc)
        log.info(
            "subscriber %s unsubscribed (%s)", subscriber.id, "one-click" if one_click else "page"
        )
        if one_click:
            return PlainTextResponse("You are unsubscribed.\n")
        token = request.query_params.get("token", "")
        return self.site.pages.render(
            request,
            "unsubscribed.html",
            email=subscriber.email,
            can_resubscribe=subscriber.state is SubscriberState.UNSUBSCRIBED,
            resubscribe_action=with_token(f"{self.site.root}/resubscribe", token),
        )

    async def weekly(self, request: Request) -> Response:
        """ "Weekly instead": the digest once a week, on the weekday already stored."""
        return await self._ease(request, weekly, "weekly")

    async def fewer(self, request: Request) -> Response:
        """ "Fewer papers": half as many papers in each digest."""
        return await self._ease(request, fewer, "fewer")

    async def _ease(self, request: Request, change: Change, what: str) -> Response:
        await self.site.checked_form(request)
        try:
            subject = self.site.subject(request, Purpose.UNSUBSCRIBE)
            before, after = await self.site.in_thread(self._change, subject, change)
        except InvalidToken as exc:
            return self.site.bad_link(request, exc)
        token = request.query_params.get("token", "")
        if after is None:
            return self.site.pages.message(
                request,
                409,
                "This address does not receive the digest",
                "There is nothing to change. Subscribe again from the unsubscribe page first.",
                (
                    with_token(f"{self.site.root}/unsubscribe", token),
                    "Back to the unsubscribe page",
                ),
            )
        log.info("subscriber %s chose %s instead of unsubscribing", after.id, what)
        settings = self.site.settings
        return self.site.pages.render(
            request,
            "unsubscribe_eased.html",
            email=after.email,
            change=what,
            before=before,
            after=preferences_of(after),
            preferences_url=links.preferences_url(settings, after.id, after.email),
            unsubscribe_url=with_token(f"{self.site.root}/unsubscribe", token),
        )

    async def resubscribe(self, request: Request) -> Response:
        await self.site.checked_form(request)
        try:
            subject = self.site.subject(request, Purpose.UNSUBSCRIBE)
            subscriber = await self.site.in_thread(self._resubscribe, subject)
        except InvalidToken as exc:
            return self.site.bad_link(request, exc)
        if subscriber.state is not SubscriberState.ACTIVE:
            return self.site.pages.message(
                request,
                409,
                "This subscription cannot be restarted",
                "Mail to this address bounced or was reported, so we no longer send to it.",
                (self.site.home, "Go to the home page"),
            )
        log.info("subscriber %s resubscribed", subscriber.id)
        return self.site.subscribed_page(request, subscriber)

    def _subscriber(self, subject: TokenSubject) -> Subscriber:
        with self.site.db.session() as session:
            return subscriber_for_token(session, subject)

    def _change(
        self, subject: TokenSubject, change: Change
    ) -> tuple[Preferences, Subscriber | None]:
        """The preferences before, and the subscriber after `change` (None: not receiving)."""
        with self.site.db.session() as session:
            subscriber = subscriber_for_token(session, subject)
            before = preferences_of(subscriber)
            if subscriber.state not in RECEIVING:
                return before, None
            return before, update_preferences(session, subject, change(before))

    def _unsubscribe(self, subject: TokenSubject) -> Subscriber:
        with self.site.db.session() as session:
            return unsubscribe(session, subject)

    def _resubscribe(self, subject: TokenSubject) -> Subscriber:
        with self.site.db.session() as session:
            return resubscribe(session, subject)
