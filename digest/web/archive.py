"""The public archive: the list of editions, and each day's general edition as the email's
"view in browser" page (the same templates, no personal links)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.papers import EditionEntry
from digest.render.archive import render_archive_html
from digest.store.pools import find_pool, list_pools, pool_entries
from digest.web.pages import human_date
from digest.web.site import Site

ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ARCHIVE_LENGTH = 120


@dataclass(frozen=True)
class EditionLink:
    day: str
    label: str


@dataclass(frozen=True)
class EditionPage:
    day: date
    entries: list[EditionEntry]
    sample: bool


class ArchivePages:
    """GET /archive and GET /archive/YYYY-MM-DD."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [
            Route("/archive", self.index, methods=["GET"]),
            Route("/archive/{day}", self.edition, methods=["GET"]),
        ]

    async def index(self, request: Request) -> Response:
        editions = await self.site.in_thread(self._editions)
        return self.site.pages.render(request, "archive.html", editions=editions)

    async def edition(self, request: Request) -> Response:
        """The day's general edition as the email's "view in browser" page."""
        day = parse_day(request.path_params["day"])
        page = await self.site.in_thread(self._edition, day)
        if page is None:
            raise HTTPException(404)
        email = self.site.settings.email
        return self.site.pages.render_html(
            lambda nonce: render_archive_html(
                email,
                page.day,
                page.entries,
                sample=page.sample,
                style_nonce=nonce,
                site_root=self.site.root,
            ),
        )

    def _editions(self) -> list[EditionLink]:
        with self.site.db.session() as session:
            return [
                EditionLink(e.date.isoformat(), human_date(e.date))
                for e in list_pools(session, limit=ARCHIVE_LENGTH)
            ]

    def _edition(self, day: date) -> EditionPage | None:
        with self.site.db.session() as session:
            pool = find_pool(session, day)
            if pool is None:
                return None
            # The general edition: the head of the day's frozen pool.
            entries = pool_entries(session, pool, limit=self.site.settings.web.archive_size)
        sample = bool(entries) and all(entry.source == "sample" for entry in entries)
        return EditionPage(day, entries, sample)


def parse_day(raw: str) -> date:
    """A YYYY-MM-DD path segment, or 404 for anything else."""
    if not ISO_DAY.match(raw):
        raise HTTPException(404)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise HTTPException(404) from None
