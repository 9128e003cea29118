"""GET /archive.atom (the public archive) and GET /feed.atom?token=… (a subscriber's own)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest import links
from digest.errors import InvalidToken
from digest.pipeline.feeds import FeedGone, build_archive_feed, build_personal_feed
from digest.render.atom import ATOM_MEDIA_TYPE
from digest.tokens import Purpose, TokenSubject
from digest.web.pages import with_token
from digest.web.site import Site

ATOM_CONTENT_TYPE = f"{ATOM_MEDIA_TYPE}; charset=utf-8"
# Readers poll; a few minutes of caching spares the database and loses no edition.
PUBLIC_CACHE = "public, max-age=300"


class FeedRoutes:
    """The two Atom feeds; a personal feed whose subscription ended answers 410."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [
            Route("/archive.atom", self.archive, methods=["GET"]),
            Route("/feed.atom", self.personal, methods=["GET"]),
        ]

    async def archive(self, request: Request) -> Response:
        settings = self.site.settings
        body = await self.site.in_thread(
            lambda: build_archive_feed(
                self.site.db, settings, self_url=links.archive_feed_url(settings)
            )
        )
        return Response(body, media_type=ATOM_CONTENT_TYPE, headers={"Cache-Control": PUBLIC_CACHE})

    async def personal(self, request: Request) -> Response:
        try:
            subject = self.site.subject(request, Purpose.FEED)
        except InvalidToken:
            return self._answer(404, "This feed address is not valid.")
        try:
            body = await self.site.in_thread(self._personal, subject, request)
        except FeedGone:
            return self._answer(410, "This feed has ended: its subscription no longer exists.")
        return Response(body, media_type=ATOM_CONTENT_TYPE, headers={"Cache-Control": "no-store"})

    def _personal(self, subject: TokenSubject, request: Request) -> bytes:
        # The address asked for is the feed's own (a fresh token differs in its timestamp).
        token = request.query_params.get("token", "")
        self_url = with_token(f"{self.site.web.base_url}/feed.atom", token)
        return build_personal_feed(self.site.db, self.site.settings, subject, self_url=self_url)

    @staticmethod
    def _answer(status: int, text: str) -> Response:
        # Plain text: a feed reader shows it as is, and a person who opens it reads it.
        return Response(text, status_code=status, media_type="text/plain; charset=utf-8")
