"""The public archive: the list of days (each with its paper count and top title), and each
day's general edition in the site's chrome around the email's own paper rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.papers import EditionEntry
from digest.render.archive import render_paper_rows
from digest.store.archive import archive_days
from digest.store.pools import find_pool, pool_entries
from digest.web.pages import human_date
from digest.web.site import Site

ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ARCHIVE_LENGTH = 120
NEAREST_SHOWN = 3


@dataclass(frozen=True)
class EditionLink:
    day: str
    label: str
    count: int = 0
    top_title: str | None = None


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
        editions = await self.site.in_thread(self._editions, ARCHIVE_LENGTH)
        return self.site.pages.render(request, "archive.html", editions=editions)

    async def edition(self, request: Request) -> Response:
        """The day's general edition, the web copy of the email ("view in browser")."""
        day = parse_day(request.path_params["day"])
        page = await self.site.in_thread(self._edition, day)
        if page is None:
            return await self._missing(request, day)
        rows = render_paper_rows(self.site.settings.email, page.entries)
        editions = await self.site.in_thread(self._editions, ARCHIVE_LENGTH)
        earlier = next((e for e in editions if e.day < page.day.isoformat()), None)
        later = next((e for e in reversed(editions) if e.day > page.day.isoformat()), None)
        return self.site.pages.render(
            request,
            "archive_day.html",
            label=human_date(page.day),
            heading=heading_date(page.day),
            sample=page.sample,
            count=len(page.entries),
            rows=rows,
            earlier=earlier,
            later=later,
        )

    async def _missing(self, request: Request, day: date) -> Response:
        editions = await self.site.in_thread(self._editions, ARCHIVE_LENGTH)
        nearest = sorted(editions, key=lambda e: abs((date.fromisoformat(e.day) - day).days))[
            :NEAREST_SHOWN
        ]
        nearest.sort(key=lambda e: e.day, reverse=True)
        return self.site.pages.render(
            request,
            "archive_missing.html",
            404,
            label=human_date(day),
            heading=heading_date(day),
            nearest=nearest,
        )

    def _editions(self, limit: int) -> list[EditionLink]:
        size = self.site.settings.web.archive_papers
        with self.site.db.session() as session:
            return [
                EditionLink(d.day.isoformat(), human_date(d.day), d.count, d.top_title)
                for d in archive_days(session, size, limit)
            ]

    def _edition(self, day: date) -> EditionPage | None:
        with self.site.db.session() as session:
            pool = find_pool(session, day)
            if pool is None:
                return None
            # The general edition: the head of the day's frozen pool.
            entries = pool_entries(session, pool, limit=self.site.settings.web.archive_papers)
        sample = bool(entries) and all(entry.source == "sample" for entry in entries)
        return EditionPage(day, entries, sample)


@dataclass(frozen=True)
class HeadingDate:
    """The weekday and the rest apart: a heading may wrap after the weekday, never inside
    "1 December 2026"."""

    weekday: str
    day_month_year: str


def heading_date(day: date) -> HeadingDate:
    return HeadingDate(f"{day:%A}", f"{day.day} {day:%B %Y}")


def parse_day(raw: str) -> date:
    """A YYYY-MM-DD path segment, or 404 for anything else."""
    if not ISO_DAY.match(raw):
        raise HTTPException(404)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise HTTPException(404) from None
