"""The Hugging Face daily papers API: the community's trending arXiv papers of each day.

The payload has drifted over the years (`ai_summary`, `githubStars`… came later), so each
field is read by meaning and checked for type; a bad field is dropped, a paper without an
arXiv id or a title is skipped with a logged reason, and nothing in the body crashes us.
Strings are cleaned (`digest.text.clean_json`) as an item is read, counts are clamped
(`digest.papers.clamp_count`), and an item that breaks a paper's limits is skipped alone.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx

from digest import links
from digest.errors import SourceError
from digest.papers import (
    MAX_URL,
    FetchedPaper,
    InvalidPaper,
    Validator,
    clamp_count,
    normalise_arxiv_id,
    pdf_url,
    plausible_moment,
)
from digest.sources.base import FetchResult
from digest.sources.http import Answer, HttpStatusError, PoliteHttp
from digest.text import clean_json, clean_text

logger = logging.getLogger("digest.sources.hf")

SOURCE_LABEL = "Hugging Face daily papers"
PAGE_SIZE = 100
MAX_PAGES = 50  # 5,000 papers in a day would be fifty times the busiest day so far

ValidatorLookup = Callable[[str], Validator | None]


class UnusableItem(ValueError):
    """An item of the payload that cannot become a paper; the message is the reason."""


class HuggingFaceDailyPapers:
    """`GET {api_url}/api/daily_papers?date=…&p=…&limit=…`; the token goes only to this host."""

    name = "hf"

    def __init__(
        self,
        http: PoliteHttp | httpx.Client,
        api_url: str,
        token: str | None = None,
        page_size: int = PAGE_SIZE,
        validators: ValidatorLookup | None = None,
    ) -> None:
        self.http = http if isinstance(http, PoliteHttp) else PoliteHttp(http)
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.page_size = page_size
        self.validators = validators

    def pages(self, day: date) -> Iterator[FetchResult]:
        """Every page the API lists for `day`, until a short page; SourceError when unusable."""
        first_ids: set[str] = set()
        for page in range(MAX_PAGES):
            params = {"date": day.isoformat(), "limit": self.page_size, "p": page}
            url = str(httpx.URL(f"{self.api_url}/api/daily_papers", params=params))
            known = self.validators(url) if self.validators else None
            answer = self._get(url, known)
            if answer.not_modified and known is not None:
                yield FetchResult(validator=known, unchanged=True)
                item_count = known.items
            else:
                items, problem = json_items(answer)
                result = parse_daily_papers(items, default_day=day)
                ids = {paper.arxiv_id for paper in result.papers}
                if page and ids and ids <= first_ids:
                    logger.warning("%s: page %d repeats page 0; the API ignores paging", url, page)
                    return
                first_ids = first_ids or ids
                # A cut-short page gets no validator: the next run must read it whole.
                validator = None if problem else answer.validator(len(items))
                yield FetchResult(result.papers, result.skipped, validator)
                if problem:
                    raise SourceError(problem)
                item_count = len(items)
            if item_count < self.page_size:
                return
        logger.warning("%s: stopped after %d pages for %s", SOURCE_LABEL, MAX_PAGES, day)

    def _get(self, url: str, known: Validator | None) -> Answer:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            return self.http.get(url, SOURCE_LABEL, headers=headers, validator=known)
        except HttpStatusError as exc:
            if exc.status == 429 and not self.token:
                raise SourceError(f"{exc}; setting DIGEST_HF_TOKEN raises the limit") from None
            raise


def json_items(answer: Answer) -> tuple[list[Any], str | None]:
    """The items of a JSON list answer, and a problem when only a leading part was readable.

    A truncated list keeps its complete items; anything else unusable raises SourceError.
    """
    where = f"from {answer.url}"
    text = decode_text(answer.content, where)
    try:
        payload = loads(text)
    except RecursionError:
        if not text.lstrip().startswith("["):
            raise SourceError(f"{SOURCE_LABEL}: answer {where} is nested too deeply") from None
        # One item nested thousands deep: read the items one by one, that one is skipped.
        items, complete = read_items(text)
        if complete:
            return items, None
        problem = f"{SOURCE_LABEL}: answer {where} is cut short; kept {len(items)} items"
        logger.warning(problem)
        return items, problem
    except ValueError:
        if not text.lstrip().startswith("["):
            raise SourceError(
                f"{SOURCE_LABEL}: answer {where} is not valid JSON ({answer.content_type})"
            ) from None
        items = leading_items(text)
        problem = (
            f"{SOURCE_LABEL}: answer {where} is not valid JSON (cut short?); "
            f"kept the {len(items)} complete items before the break"
        )
        logger.warning(problem)
        return items, problem
    if not isinstance(payload, list):
        shape = _shape(payload)
        raise SourceError(f"{SOURCE_LABEL}: expected a list of papers {where}, got {shape}")
    return payload, None


def loads(text: str) -> Any:
    """`json.loads`, lenient where one bad value would otherwise lose the whole answer.

    An integer too long for Python's int() (over 4,300 digits) is ±Infinity, clamped later
    like any huge count; control characters inside strings are let through, to be removed
    by `clean_json`. Raises ValueError or RecursionError.
    """
    return json.loads(text, parse_int=_parse_int, strict=False)


def _parse_int(digits: str) -> int | float:
    if len(digits) > 100:
        return -math.inf if digits.startswith("-") else math.inf
    return int(digits)


def decode_text(content: bytes, where: str) -> str:
    """UTF-8 text; bytes that are not UTF-8 become U+FFFD, with a warning."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        logger.warning("%s: answer %s is not valid UTF-8; bad bytes replaced", SOURCE_LABEL, where)
        return content.decode("utf-8-sig", errors="replace")


@dataclass(frozen=True)
class Unreadable:
    """Stands in for an item that could not even be decoded; `reason` says why."""

    reason: str


def leading_items(text: str) -> list[Any]:
    """The complete values at the start of a JSON list that breaks off or goes bad later."""
    return read_items(text)[0]


def read_items(text: str) -> tuple[list[Any], bool]:
    """The values of a JSON list one at a time, and whether its closing bracket was reached.

    Reading stops at the first value that is not JSON; a value nested too deeply to decode
    is passed over as `Unreadable`, so the items after it are still read.
    """
    decoder = json.JSONDecoder(parse_int=_parse_int, strict=False)
    items: list[Any] = []
    position = text.index("[") + 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text):
            return items, False
        if text[position] == "]":
            return items, True
        try:
            item, position = decoder.raw_decode(text, position)
        except RecursionError:
            position = _end_of_value(text, position)
            if position < 0:
                return items, False
            item = Unreadable("nested too deeply")
        except ValueError:
            return items, False
        items.append(item)


def _end_of_value(text: str, start: int) -> int:
    """Where the list or object starting at `start` ends, counting brackets; -1 if it does not."""
    depth, in_string, escaped = 0, False, False
    for position in range(start, len(text)):
        char = text[position]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return position + 1
    return -1


def _shape(payload: object) -> str:
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, str):
            return f"an error object: {' '.join(clean_text(error).split())[:200]}"
        return "an object"
    return f"a JSON {type(payload).__name__}"


def parse_daily_papers(items: list[Any], default_day: date | None = None) -> FetchResult:
    """Turn daily-papers items into papers; `default_day` stands in for a missing listing day."""
    papers: list[FetchedPaper] = []
    skipped: list[tuple[str, str]] = []
    for index, raw in enumerate(items):
        if isinstance(raw, Unreadable):
            logger.warning("skipped daily-papers item item #%d: %s", index + 1, raw.reason)
            skipped.append((f"item #{index + 1}", raw.reason))
            continue
        item = clean_json(raw)  # the one place this source's text enters
        try:
            papers.append(parse_item(item, default_day))
        except (UnusableItem, TypeError, ValueError, AttributeError, OverflowError) as exc:
            identifier = _identifier(item, index)
            known = isinstance(exc, UnusableItem | InvalidPaper)
            reason = str(exc) if known else f"unreadable item ({exc})"
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
    arxiv_id = _arxiv_id(paper.get("id"))  # keeps a version suffix; FetchedPaper splits it
    title = text(paper.get("title")) or text(item.get("title"))
    if not title:
        raise UnusableItem("no title")
    return FetchedPaper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=text(paper.get("summary")) or text(item.get("summary")) or "",
        authors=authors(paper.get("authors")),
        pdf_url=pdf_url(normalise_arxiv_id(arxiv_id) or arxiv_id),
        code_url=http_url(paper.get("githubRepo")),
        project_url=http_url(paper.get("projectPage")),
        thumbnail_url=http_url(item.get("thumbnail")),
        summary=text(paper.get("ai_summary")),
        keywords=strings(paper.get("ai_keywords")),
        organisation=organisation(paper.get("organization")),
        published_at=timestamp(paper.get("publishedAt")) or timestamp(item.get("publishedAt")),
        listed_on=day_of(paper.get("submittedOnDailyAt")) or default_day,
        upvotes=count(paper.get("upvotes")) or 0,
        comments=count(item.get("numComments")) or count(paper.get("numComments")) or 0,
        stars=count(paper.get("githubStars")),
    )


def _arxiv_id(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UnusableItem("no arXiv id")
    arxiv_id = normalise_arxiv_id(value, keep_version=True)
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


def organisation(value: object) -> str | None:
    """The organisation's full name (`{"name": "caltech", "fullname": "…"}`), else its name."""
    if not isinstance(value, Mapping):
        return None
    return text(value.get("fullname")) or text(value.get("name"))


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
    """An absolute http(s) URL that fits its column, or None (drops `javascript:`, junk)."""
    url = links.http_url(text(value))
    return url if url is not None and len(url) <= MAX_URL else None


def count(value: object) -> int | None:
    """A count clamped into 0..2**31-1 (see `clamp_count`), or None when it is no number."""
    return clamp_count(value)


def timestamp(value: object) -> datetime | None:
    """An aware datetime from ISO 8601 text (`Z` suffix, date only; naive means UTC)."""
    cleaned = text(value)
    if cleaned is None:
        return None
    try:
        parsed = datetime.fromisoformat(cleaned)
        # Year 1 or 9999 with an offset overflows on the way to UTC.
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return plausible_moment(parsed)


def day_of(value: object) -> date | None:
    """The UTC calendar day of an ISO 8601 timestamp, or None."""
    moment = timestamp(value)
    return moment.date() if moment else None
