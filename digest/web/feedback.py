"""The "more / less like this" links: a GET shows the paper, only the POST records the vote.

Emails carry `/rate/<short token>/<vote>/<paper>`; emails sent before carry
`/feedback?token=…&paper=…&vote=…`, which keeps working.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.errors import DigestError, InvalidToken
from digest.links import FEEDBACK_PATH
from digest.render.templates import shorten_authors
from digest.store.feedback import UnknownPaper, Vote, find_paper, parse_vote, record_feedback
from digest.store.models import Paper
from digest.store.subscribers import subscriber_for_token
from digest.tokens import Purpose, TokenSubject, read_short_token
from digest.web.pages import sentence
from digest.web.site import Site

log = logging.getLogger(__name__)

MAX_PAPER_ID = 40


@dataclass(frozen=True)
class FeedbackRequest:
    subject: TokenSubject
    arxiv_id: str
    vote: Vote


@dataclass(frozen=True)
class PaperSummary:
    arxiv_id: str
    title: str
    authors: str
    learning: bool = True  # whether the reader's votes shape their digest now


class FeedbackPages:
    """GET and POST /rate/<token>/<vote>/<paper> and /feedback?token=…&paper=…&vote=…"""

    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        short = f"{FEEDBACK_PATH}{{token}}/{{vote}}/{{paper:path}}"
        return [
            Route("/feedback", self.page, methods=["GET"]),
            Route("/feedback", self.record, methods=["POST"]),
            Route(short, self.page, methods=["GET"]),
            Route(short, self.record, methods=["POST"]),
        ]

    async def page(self, request: Request) -> Response:
        found = await self._resolve(request, self._paper)
        if isinstance(found, Response):
            return private(request, found)
        asked, paper = found
        response = self.site.pages.render(
            request,
            "feedback.html",
            paper=paper,
            more=asked.vote is Vote.MORE,
            action=f"{self.site.root}{feedback_action(request, asked)}",
        )
        return private(request, response)

    async def record(self, request: Request) -> Response:
        await self.site.checked_form(request)
        found = await self._resolve(request, self._record)
        if isinstance(found, Response):
            return private(request, found)
        asked, paper = found
        log.info("feedback recorded (%s)", asked.vote.value)
        response = self.site.pages.render(
            request, "feedback_thanks.html", paper=paper, more=asked.vote is Vote.MORE
        )
        return private(request, response)

    async def _resolve(
        self, request: Request, work: Callable[[FeedbackRequest], PaperSummary]
    ) -> tuple[FeedbackRequest, PaperSummary] | Response:
        """Read the link and run `work` on it, or the page explaining what is wrong."""
        try:
            asked = self._request(request)
            return asked, await self.site.in_thread(work, asked)
        except InvalidToken as exc:
            return self.site.bad_link(request, exc)
        except UnknownPaper:
            return self._unknown_paper(request)
        except DigestError as exc:
            return self._bad_vote(request, exc)

    def _request(self, request: Request) -> FeedbackRequest:
        values: Mapping[str, str]
        if "token" in request.path_params:
            values = request.path_params
            subject = read_short_token(self.site.web.secret_key, Purpose.FEEDBACK, values["token"])
        else:
            values = request.query_params
            subject = self.site.subject(request, Purpose.FEEDBACK)
        arxiv_id = values.get("paper", "").strip()
        if not arxiv_id or len(arxiv_id) > MAX_PAPER_ID:
            raise UnknownPaper("the link names no paper")
        return FeedbackRequest(subject, arxiv_id, parse_vote(values.get("vote", "")))

    def _paper(self, asked: FeedbackRequest) -> PaperSummary:
        with self.site.db.session() as session:
            subscriber = subscriber_for_token(session, asked.subject)
            return summary(find_paper(session, asked.arxiv_id), subscriber.learn_from_ratings)

    def _record(self, asked: FeedbackRequest) -> PaperSummary:
        with self.site.db.session() as session:
            subscriber = subscriber_for_token(session, asked.subject)
            paper = record_feedback(session, subscriber.id, asked.arxiv_id, asked.vote)
            return summary(paper, subscriber.learn_from_ratings)

    def _unknown_paper(self, request: Request) -> Response:
        return self.site.pages.message(
            request,
            404,
            "We do not know this paper",
            "The link names a paper that is not in our list. Please use the exact link from "
            "the email.",
            (self.site.home, "Go to the home page"),
        )

    def _bad_vote(self, request: Request, exc: DigestError) -> Response:
        return self.site.pages.message(
            request,
            400,
            "This link does not work",
            f"{sentence(str(exc))} Please use the exact link from the email.",
            (self.site.home, "Go to the home page"),
        )


def private(request: Request, response: Response) -> Response:
    """What every page reached by a token gets (the security middleware adds it for a token
    in the query): not cached, not indexed. A short link carries its token in the path."""
    if "token" in request.path_params:
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def summary(paper: Paper, learning: bool = True) -> PaperSummary:
    return PaperSummary(paper.arxiv_id, paper.title, shorten_authors(paper.authors), learning)


def feedback_action(request: Request, asked: FeedbackRequest) -> str:
    """Where the confirm button POSTs: the link's own form, rebuilt from the values we
    checked."""
    if "token" in request.path_params:
        token = quote(request.path_params["token"], safe="")
        return f"{FEEDBACK_PATH}{token}/{asked.vote.value}/{quote(asked.arxiv_id, safe='/')}"
    token = request.query_params.get("token", "")
    query = urlencode({"token": token, "paper": asked.arxiv_id, "vote": asked.vote.value})
    return f"/feedback?{query}"
