"""Unsubscribe: a page with one button, the RFC 8058 one-click POST, and resubscribe."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from digest.errors import InvalidToken
from digest.store.models import Subscriber, SubscriberState
from digest.store.subscribers import resubscribe, subscriber_for_token, unsubscribe
from digest.tokens import Purpose, TokenSubject
from digest.web.pages import sentence, with_token
from digest.web.security import CSRF_FIELD
from digest.web.site import Site, form_text

log = logging.getLogger(__name__)

ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"
RECEIVING = (SubscriberState.PENDING, SubscriberState.ACTIVE)


class UnsubscribePages:
    """GET|POST /unsubscribe and POST /resubscribe, all by the unsubscribe token (no expiry)."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [
            Route("/unsubscribe", self.page, methods=["GET"]),
            Route("/unsubscribe", self.unsubscribe, methods=["POST"]),
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
            action=with_token(f"{self.site.root}/unsubscribe", token),
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

    def _unsubscribe(self, subject: TokenSubject) -> Subscriber:
        with self.site.db.session() as session:
            return unsubscribe(session, subject)

    def _resubscribe(self, subject: TokenSubject) -> Subscriber:
        with self.site.db.session() as session:
            return resubscribe(session, subject)
