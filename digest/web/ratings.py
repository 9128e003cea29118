"""GET /rate?token=…&edition=YYYY-MM-DD: one edition's papers, each with its feedback links.

The plain-text digest carries this one link instead of two long feedback URLs per paper;
the page lists what that reader received and links every paper to /feedback, whose own
page asks to confirm, so a GET here changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.errors import InvalidToken
from digest.render.templates import shorten_authors
from digest.store.models import Delivery, DeliveryPaper, Paper, Pool
from digest.store.subscribers import subscriber_for_token
from digest.tokens import Purpose
from digest.web.pages import human_date
from digest.web.site import Site


@dataclass(frozen=True)
class RatedPaper:
    title: str
    authors: str
    more_url: str
    less_url: str


class RatingsPage:
    """The "rate these papers" page of one subscriber's edition."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [Route("/rate", self.page, methods=["GET"])]

    async def page(self, request: Request) -> Response:
        try:
            subject = self.site.subject(request, Purpose.FEEDBACK)
        except InvalidToken as exc:
            return self.site.bad_link(request, exc)
        day = _day(request.query_params.get("edition", ""))
        if day is None:
            return self._no_edition(request)
        token = request.query_params.get("token", "")

        def papers() -> list[RatedPaper]:
            with self.site.db.session() as session:
                subscriber = subscriber_for_token(session, subject)
                return [
                    RatedPaper(
                        paper.title,
                        shorten_authors(paper.authors),
                        self._feedback(token, paper.arxiv_id, "more"),
                        self._feedback(token, paper.arxiv_id, "less"),
                    )
                    for paper in delivered_papers(session, subscriber.id, day)
                ]

        try:
            rated = await self.site.in_thread(papers)
        except InvalidToken as exc:
            return self.site.bad_link(request, exc)
        if not rated:
            return self._no_edition(request)
        return self.site.pages.render(request, "rate.html", papers=rated, day=human_date(day))

    def _feedback(self, token: str, arxiv_id: str, vote: str) -> str:
        query = urlencode({"token": token, "paper": arxiv_id, "vote": vote})
        return f"{self.site.root}/feedback?{query}"

    def _no_edition(self, request: Request) -> Response:
        return self.site.pages.message(
            request,
            404,
            "No papers to rate here",
            "This link names no edition you received. Please use the exact link from the email.",
            (self.site.home, "Go to the home page"),
        )


def delivered_papers(session: Session, subscriber_id: int, day: date) -> list[Paper]:
    """The papers of the edition of `day` that this subscriber's copy carried, in its order."""
    query = (
        select(Paper)
        .join(DeliveryPaper, DeliveryPaper.paper_id == Paper.id)
        .join(Delivery, Delivery.id == DeliveryPaper.delivery_id)
        .join(Pool, Pool.id == Delivery.pool_id)
        .where(Delivery.subscriber_id == subscriber_id, Pool.date == day)
        .order_by(DeliveryPaper.rank)
    )
    return list(session.scalars(query))


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if len(value.strip()) == 10 else None
    except ValueError:
        return None
