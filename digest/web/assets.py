"""What browsers and crawlers fetch about the site itself: the icon and robots.txt."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from digest.web.crawlers import robots_txt

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Both change with a release at most; a day of caching spares a request per page.
ASSET_CACHE = "public, max-age=86400"


class SiteAssets:
    """GET /robots.txt, /favicon.svg (linked from every page) and /favicon.ico (what
    browsers ask for when a document links no icon)."""

    def __init__(self, root: str) -> None:
        self.robots = robots_txt(root)
        self.svg = (STATIC_DIR / "favicon.svg").read_bytes()
        self.ico = (STATIC_DIR / "favicon.ico").read_bytes()

    def routes(self) -> list[Route]:
        return [
            Route("/robots.txt", self.robots_txt, methods=["GET"]),
            Route("/favicon.svg", self.favicon_svg, methods=["GET"]),
            Route("/favicon.ico", self.favicon_ico, methods=["GET"]),
        ]

    async def robots_txt(self, request: Request) -> Response:
        return PlainTextResponse(self.robots, headers={"Cache-Control": ASSET_CACHE})

    async def favicon_svg(self, request: Request) -> Response:
        return Response(
            self.svg, media_type="image/svg+xml", headers={"Cache-Control": ASSET_CACHE}
        )

    async def favicon_ico(self, request: Request) -> Response:
        return Response(
            self.ico, media_type="image/vnd.microsoft.icon", headers={"Cache-Control": ASSET_CACHE}
        )
