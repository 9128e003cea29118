"""The Hugging Face daily papers API: the community's trending arXiv papers of each day.

The payload has drifted over the years (`ai_summary`, `githubStars`… came later), so each
field is read by meaning and checked for type; a bad field is dropped, a paper without an
arXiv id or a title is skipped with a logged reason, and nothing in the body crashes us.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import httpx

from digest import links
from digest.errors import SourceError
from digest.sources.base import FetchedPaper, FetchResult, normalise_arxiv_id, pdf_url

logger = logging.getLogger("digest.sources.hf")

SOURCE_LABEL = "Hugging Face daily papers"
PAGE_SIZE = 100


class UnusableItem(ValueError):
    """An item of the payload that cannot become a paper; the message is the reason."""


class HuggingFaceDailyPapers:
    """`GET {api_url}/api/daily_papers?date=…`; the token, if any, goes only to this host."""

    name = "hf"

    def __init__(self, client: httpx.Client, api_url: str, token: str | None = None) -> None:
        self.client = client
        self.api_url = api_url.rstrip("/")
        self.token = token

    def fetch(self, day: date) -> FetchResult:
        """The papers featured on `day` (first page only), or SourceError."""
        return parse_daily_papers(self._get_payload(day), default_day=day)

    def _get_payload(self, day: date) -> list[Any]:
        url = f"{self.api_url}/api/daily_papers"
        params: dict[str, str | int] = {"date": day.isoformat(), "limit": PAGE_SIZE, "p": 0}
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = self.client.get(url, params=params, headers=headers)
        except httpx.TimeoutException:
            raise SourceError(f"{SOURCE_LABEL}: timed out reaching {url}") from None
        except httpx.HTTPError as exc:
            raise SourceError(f"{SOURCE_LABEL}: could not reach {url}: {_brief(exc)}") from None
        if response.status_code != 200:
            raise SourceError(_status_message(response, has_token=bool(self.token)))
        return _json_list(response)


def _status_message(response: httpx.Response, has_token: bool) -> str:
    message = f"{SOURCE_LABEL}: HTTP {response.status_code} from {response.request.url}"
    if response.status_code == 429:
        retry_after = response.headers.get("Retry-After")
        if retry_after:
            message += f" (rate limited; retry after {retry_after} s)"
        if not has_token:
            message += "; setting DIGEST_HF_TOKEN raises the limit"
    return message


def _json_list(response: httpx.Response) -> list[Any]:
    where = f"from {response.request.url}"
    try:
        payload = json.loads(response.content)
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        raise SourceError(f"{SOURCE_LABEL}: answer {where} is not valid JSON ({kind})") from None
    if not isinstance(payload, list):
        shape = _shape(payload)
        raise SourceError(f"{SOURCE_LABEL}: expected a list of papers {where}, got {shape}")
    return payload


def _shape(payload: object) -> str:
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, str):
            return f"an error object: {' '.join(error.split())[:200]}"
        return "an object"
    return f"a JSON {type(payload).__name__}"


def _brief(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def parse_daily_papers(items: list[Any], default_day: date | None = None) -> FetchResult:
    """Turn daily-papers items into papers; `default_day` stands in for a missing listing day."""
    papers: list[FetchedPaper] = []
    skipped: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        try:
            papers.append(parse_item(item, default_day))
        except (UnusableItem, TypeError, ValueError, AttributeError) as exc:
            identifier = _identifier(item, index)
            reason = str(exc) if isinstance(exc, UnusableItem) else f"unreadable item ({exc})"
            logger.warning("skipped daily-papers item %s: %s", identifier, reason)
            skipped.append((identifier, reason))
    return FetchResult(papers=papers, skipped=skipped)


def parse_item(item: object, default_day: date | None = None) -> FetchedPaper:
    """One item (`{"paper": {...}, "numComments": …}`, or a bare paper) to a FetchedPaper."""
    if not isinstance(item, Mapping):
        raise UnusableItem(f"not an object but {type(item).__name__}")
    paper = item.get("paper")
    if not isinstance(paper, Mapping):
        paper = item  # a flat item: the paper's fields at the top level
    arxiv_id = _arxiv_id(paper.get("id"))
    title = text(paper.get("title")) or text(item.get("title"))
    if not title:
        raise UnusableItem("no title")
    return FetchedPaper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=text(paper.get("summary")) or text(item.get("summary")) or "",
        authors=authors(paper.get("authors")),
        pdf_url=pdf_url(arxiv_id),
        code_url=http_url(paper.get("githubRepo")),
        project_url=http_url(paper.get("projectPage")),
        thumbnail_url=http_url(item.get("thumbnail")),
        summary=text(paper.get("ai_summary")),
        keywords=strings(paper.get("ai_keywords")),
        published_at=timestamp(paper.get("publishedAt")) or timestamp(item.get("publishedAt")),
        listed_on=day_of(paper.get("submittedOnDailyAt")) or default_day,
        upvotes=count(paper.get("upvotes")) or 0,
        comments=count(item.get("numComments")) or count(paper.get("numComments")) or 0,
        stars=count(paper.get("githubStars")),
    )


def _arxiv_id(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UnusableItem("no arXiv id")
    arxiv_id = normalise_arxiv_id(value)
    if arxiv_id is None:
        raise UnusableItem(f"{value.strip()[:40]!r} is not an arXiv id")
    return arxiv_id


def _identifier(item: object, index: int) -> str:
    if isinstance(item, Mapping):
        paper = item.get("paper")
        for holder in (paper if isinstance(paper, Mapping) else {}, item):
            for key in ("id", "title"):
                value = text(holder.get(key))
                if value:
                    return value[:80]
    return f"item #{index + 1}"


def text(value: object) -> str | None:
    """A string with its whitespace collapsed, or None for anything else or blank."""
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def strings(value: object) -> list[str]:
    """The distinct non-blank strings of a list, in order (case-insensitively distinct)."""
    if not isinstance(value, list):
        return []
    found: list[str] = []
    seen: set[str] = set()
    for entry in value:
        cleaned = text(entry)
        if cleaned and cleaned.lower() not in seen:
            seen.add(cleaned.lower())
            found.append(cleaned)
    return found


def authors(value: object) -> list[str]:
    """Author names from `[{"name": …}]` (or `[{"user": {"fullname": …}}]`, or plain strings)."""
    if not isinstance(value, list):
        return []
    names: list[str] = []
    for entry in value:
        name = text(entry)
        if name is None and isinstance(entry, Mapping):
            user = entry.get("user")
            fallback = user.get("fullname") if isinstance(user, Mapping) else None
            name = text(entry.get("name")) or text(fallback)
        if name:
            names.append(name)
    return names


def http_url(value: object) -> str | None:
    """An absolute http(s) URL, or None (drops `javascript:`, relative paths, junk)."""
    return links.http_url(text(value))


def count(value: object) -> int | None:
    """A non-negative integer count (ints, integral floats, digit strings), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and value >= 0:
        return value
    return None


def timestamp(value: object) -> datetime | None:
    """An aware datetime from ISO 8601 text (`Z` suffix, date only; naive means UTC)."""
    cleaned = text(value)
    if cleaned is None:
        return None
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def day_of(value: object) -> date | None:
    """The UTC calendar day of an ISO 8601 timestamp, or None."""
    moment = timestamp(value)
    return moment.date() if moment else None
