"""Rendering web pages: Jinja2 with autoescaping, a CSP nonce and the CSRF field."""

from __future__ import annotations

import secrets
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from digest.links import http_url
from digest.papers import EditionEntry
from digest.render.templates import excerpt, shorten_authors, trend_line
from digest.settings import WebSettings
from digest.web.crawlers import NOINDEX, indexable, route_path
from digest.web.inputs import query_has_token
from digest.web.security import CSRF_FIELD, Csrf, page_csp

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "web"
TIMEZONE_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
TLDR_CHARACTERS = 220
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class PaperCard:
    """One paper as the pages show it."""

    rank: int
    arxiv_id: str
    title: str
    url: str | None
    authors: str
    trend: str
    code_url: str | None
    why: str
    tldr: str  # the source's machine-written one-line summary, if it has one
    excerpt: str  # the abstract's opening, shown when there is no TL;DR
    sample: bool  # one of the built-in sample papers, labelled as in the email
    pdf_url: str | None = None


def paper_card(entry: EditionEntry) -> PaperCard:
    return PaperCard(
        rank=entry.rank,
        arxiv_id=entry.arxiv_id,
        title=entry.title,
        url=http_url(entry.url),
        authors=shorten_authors(entry.authors),
        trend=trend_line(entry),
        code_url=http_url(entry.code_url),
        why=entry.why,
        tldr=excerpt((entry.summary or "").strip(), TLDR_CHARACTERS),
        excerpt=excerpt(entry.abstract, TLDR_CHARACTERS),
        sample=entry.source == "sample",
        pdf_url=http_url(entry.pdf_url),
    )


def human_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def timezone_choices(default: str) -> list[str]:
    """The zones offered in forms: the Area/City names people recognise, plus UTC."""
    zones = {z for z in zoneinfo.available_timezones() if z.split("/", 1)[0] in TIMEZONE_AREAS}
    return sorted(zones | {"UTC", default})


def sentence(text: str) -> str:
    """Capitalise a core error message and end it with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def root_path(web: WebSettings) -> str:
    """The path prefix of DIGEST_BASE_URL, so pages still work behind a sub-path proxy."""
    return urlsplit(web.base_url).path.rstrip("/")


def with_token(path: str, token: str) -> str:
    """`path?token=…`, for links and form actions that stay on this site."""
    return f"{path}?{urlencode({'token': token})}"


def private(html: str) -> dict[str, str]:
    """`Cache-Control: no-store` for a page that shows a link token (the "you're subscribed"
    page shows the preferences and unsubscribe links whatever the request carried)."""
    return {"Cache-Control": "no-store"} if "token=" in html else {}


class Pages:
    """Renders templates/web with autoescaping, a per-response CSP nonce and the CSRF field."""

    def __init__(self, web: WebSettings, csrf: Csrf) -> None:
        self.csrf = csrf
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATE_DIR),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(
            site_name=web.list_name,
            root=root_path(web),
            csrf_field=CSRF_FIELD,
            weekdays=WEEKDAYS,
        )

    def render(
        self,
        request: Request,
        name: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        csrf = self.csrf.token_for(request)
        carries_token = query_has_token(request.scope.get("query_string", b""))
        public = indexable(route_path(request.scope), status, carries_token)
        html = self.env.get_template(name).render(
            nonce=nonce, csrf_token=csrf.field, robots=None if public else NOINDEX, **context
        )
        all_headers = {
            "Content-Security-Policy": page_csp(nonce),
            **private(html),
            **(headers or {}),
        }
        response = HTMLResponse(html, status_code=status, headers=all_headers)
        if csrf.new_cookie is not None:
            self.csrf.set_cookie(request, response, csrf.new_cookie)
        return response

    def render_html(self, make: Callable[[str], str], status: int = 200) -> HTMLResponse:
        """A page built elsewhere (the archive's email template): `make(nonce)` returns its
        HTML, whose one <style> must carry the nonce this response's CSP allows."""
        nonce = secrets.token_urlsafe(16)
        html = make(nonce)
        headers = {"Content-Security-Policy": page_csp(nonce), **private(html)}
        return HTMLResponse(html, status_code=status, headers=headers)

    def message(
        self,
        request: Request,
        status: int,
        title: str,
        text: str,
        link: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """A short page explaining what happened; `link` is (url, label) of the way onward."""
        return self.render(
            request, "message.html", status, headers, title=title, text=text, link=link
        )
