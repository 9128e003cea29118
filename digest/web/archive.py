"""The public archive: the list of editions and each general edition as a web page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.store.pools import find_pool, list_pools, pool_entries
from digest.web.pages import PaperCard, human_date, paper_card
from digest.web.site import Site

ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ARCHIVE_LENGTH = 120


@dataclass(frozen=True)
class EditionLink:
    day: str
    label: str


@dataclass(frozen=True)
class EditionPage:
    label: str
    papers: list[PaperCard]
    abstracts: dict[str, str]


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
        day = parse_day(request.path_params["day"])
        page = await self.site.in_thread(self._edition, day)
        if page is None:
            raise HTTPException(404)
        return self.site.pages.render(
            request,
            "archive_edition.html",
            label=page.label,
            papers=page.papers,
            abstracts=page.abstracts,
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
            return EditionPage(
                human_date(day),
                [paper_card(entry) for entry in entries],
                {entry.arxiv_id: entry.abstract for entry in entries},
            )


def parse_day(raw: str) -> date:
    """A YYYY-MM-DD path segment, or 404 for anything else."""
    if not ISO_DAY.match(raw):
        raise HTTPException(404)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise HTTPException(404) from None
