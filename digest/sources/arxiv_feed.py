"""Reading arXiv's Atom and RSS answers (announcement feeds and the query API) into papers.

feedparser reads every dialect arXiv has served (RSS 1.0 of the old export feeds, RSS 2.0
and Atom of rss.arxiv.org, the query API's Atom) and never fetches external entities; we
cut any DOCTYPE out before it parses, so no entity is ever declared, let alone expanded.
Fields are then read by meaning: the id from `<id>`, the guid or the link, the announce
type from `arxiv:announce_type` or the older text markers.
"""

from __future__ import annotations

import email.utils
import io
import logging
import re
import xml.sax
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import feedparser  # type: ignore[import-untyped]

from digest.errors import SourceError
from digest.papers import FetchedPaper, arxiv_version, normalise_arxiv_id, pdf_url
from digest.text import collapse_whitespace, html_to_text

logger = logging.getLogger("digest.sources.arxiv")

SOURCE_LABEL = "arXiv"
CATEGORY_PATTERN = re.compile(r"^[a-z][a-z-]*(?:\.[A-Za-z][A-Za-z-]*)?$")
NEW, CROSS, REPLACE = "new", "cross", "replace"
# The old export feeds put "(arXiv:2311.01234v2 [cs.CL] UPDATED)" at the end of the title.
_OLD_TITLE_SUFFIX = re.compile(r"\.?\s*\(arXiv:(\S+)\s*\[([^\]]*)\]\s*([A-Z ]*)\)\s*$")
_ROOT_START = re.compile(rb"<[A-Za-z]")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ANNOUNCE_PREFIX = re.compile(
    r"^\s*arXiv:\S+\s+Announce Type:\s*([\w-]+)\s*(?:Abstract:\s*)?", re.IGNORECASE
)


@dataclass(frozen=True)
class ParsedFeed:
    """The papers of one answer, what was skipped, and the total a query API page announced."""

    papers: list[FetchedPaper] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    entries: int = 0
    total_results: int | None = None
    announced_on: date | None = None
    problem: str | None = None


def parse_feed(
    content: bytes, where: str, default_day: date | None = None, announcements: bool = True
) -> ParsedFeed:
    """Papers from an arXiv feed or query answer; SourceError when it is no feed at all.

    With `announcements` (a daily feed), new and cross-listed papers get the feed's day as
    `announced_on`. A document cut short keeps its complete entries (the last, possibly cut
    one, is dropped) and names the problem.
    """
    parsed = feedparser.parse(io.BytesIO(without_doctype(content)), sanitize_html=False)
    entries: list[Mapping[str, Any]] = list(parsed.get("entries", []))
    if not parsed.get("version") and not entries:
        raise SourceError(f"{SOURCE_LABEL}: answer {where} is not an RSS or Atom feed")
    _raise_api_error(entries, where)
    problem = None
    if parsed.get("bozo") and isinstance(parsed.get("bozo_exception"), xml.sax.SAXException):
        problem = (
            f"{SOURCE_LABEL}: answer {where} is malformed XML "
            f"({collapse_whitespace(str(parsed['bozo_exception']))[:120]}); "
            f"kept the {max(0, len(entries) - 1)} complete entries before the break"
        )
        logger.warning(problem)
        entries = entries[:-1]
    feed: Mapping[str, Any] = parsed.get("feed", {})
    announced_on = (feed_day(feed) or default_day) if announcements else None
    papers: list[FetchedPaper] = []
    skipped: list[tuple[str, str]] = []
    for index, entry in enumerate(entries):
        try:
            papers.append(parse_entry(entry, announced_on))
        except (SourceError, TypeError, ValueError, AttributeError, KeyError) as exc:
            identifier = _identifier(entry, index)
            logger.warning("skipped arXiv entry %s: %s", identifier, exc)
            skipped.append((identifier, str(exc)))
    return ParsedFeed(
        papers=papers,
        skipped=skipped,
        entries=len(entries),
        total_results=_int(feed.get("opensearch_totalresults")),
        announced_on=announced_on,
        problem=problem,
    )


def without_doctype(content: bytes) -> bytes:
    """The document with its prolog's DOCTYPE (and any entity it declares) cut out.

    arXiv never sends one; a declared entity could only serve to blow up memory or to
    reach a file or URL, so nothing from it reaches the parser.
    """
    root = _ROOT_START.search(content)
    head_end = root.start() if root else len(content)
    doctype = _DOCTYPE.search(content, 0, head_end)
    if doctype is None:
        return content
    logger.warning("%s: dropped a DOCTYPE declaration from an answer", SOURCE_LABEL)
    return content[: doctype.start()] + content[head_end:]


class UnusableEntry(SourceError):
    """An entry that cannot become a paper; the message is the reason."""


def parse_entry(entry: Mapping[str, Any], announced_on: date | None) -> FetchedPaper:
    """One feed entry or query result to a paper (announce type decides `announced_on`)."""
    raw_title = _text(entry.get("title"))
    old_suffix = _OLD_TITLE_SUFFIX.search(raw_title)
    title = raw_title[: old_suffix.start()] if old_suffix else raw_title
    arxiv_id = _entry_id(entry, old_suffix.group(1) if old_suffix else None)
    if not title.strip():
        raise UnusableEntry("no title")
    summary = html_to_text(_text(entry.get("summary")))
    announce = _ANNOUNCE_PREFIX.match(summary)
    kind = _announce_type(entry, announce, old_suffix)
    if announce:
        summary = summary[announce.end() :]
    published = _moment(entry.get("published")) or _moment(entry.get("updated"))
    return FetchedPaper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=summary,
        authors=_authors(entry),
        pdf_url=pdf_url(normalise_arxiv_id(arxiv_id) or arxiv_id),
        categories=_categories(entry, old_suffix.group(2) if old_suffix else None),
        published_at=published,
        announced_on=announced_on if kind in (NEW, CROSS) else None,
    )


def feed_day(feed: Mapping[str, Any]) -> date | None:
    """The announcement day of a feed, in the feed's own timezone (arXiv's is US Eastern)."""
    for key in ("published", "updated"):
        moment = _moment(feed.get(key), keep_zone=True)
        if moment is not None:
            return moment.date()
    return None


def valid_categories(names: Iterable[str]) -> list[str]:
    """Distinct well-formed arXiv category names (`cs.CL`, `hep-th`), in order."""
    found: list[str] = []
    for name in names:
        cleaned = name.strip()
        if not CATEGORY_PATTERN.match(cleaned):
            logger.warning("ignored %r: not an arXiv category name", cleaned[:40])
        elif cleaned not in found:
            found.append(cleaned)
    return found


def _raise_api_error(entries: list[Mapping[str, Any]], where: str) -> None:
    # The query API reports a bad query as a feed with one entry whose id is an error URL.
    if len(entries) == 1 and "/api/errors" in _text(entries[0].get("id")):
        message = collapse_whitespace(_text(entries[0].get("summary")))[:200]
        raise SourceError(f"{SOURCE_LABEL}: the query API refused {where}: {message}")


def _entry_id(entry: Mapping[str, Any], from_title: str | None) -> str:
    links = [link.get("href", "") for link in entry.get("links", []) if isinstance(link, dict)]
    candidates = (_text(entry.get("id")), from_title or "", _text(entry.get("link")), *links)
    found = [normalise_arxiv_id(c, keep_version=True) for c in candidates if c]
    ids = [arxiv_id for arxiv_id in found if arxiv_id]
    if not ids:
        raise UnusableEntry("no arXiv id")
    # The old feeds' links carry no version, their titles do: prefer an id that has one.
    return next((arxiv_id for arxiv_id in ids if arxiv_version(arxiv_id)), ids[0])


def _announce_type(
    entry: Mapping[str, Any], announce: re.Match[str] | None, old_suffix: re.Match[str] | None
) -> str:
    kind = _text(entry.get("arxiv_announce_type")) or (announce.group(1) if announce else "")
    if not kind and old_suffix:
        marker = old_suffix.group(3)
        kind = REPLACE if "UPDATED" in marker else CROSS if "CROSS" in marker else NEW
    kind = kind.strip().lower()
    if kind.startswith(REPLACE):  # "replace" and "replace-cross"
        return REPLACE
    return CROSS if kind.startswith(CROSS) else NEW


def _authors(entry: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for author in entry.get("authors", []):
        name = html_to_text(_text(author.get("name"))) if isinstance(author, dict) else ""
        # RSS puts every author in one dc:creator: "Ada One, Bo Two and Cy Three".
        for part in re.split(r",\s*|\s+and\s+", name):
            if part.strip():
                names.append(part.strip())
    return names


def _categories(entry: Mapping[str, Any], from_title: str | None) -> list[str]:
    primary = entry.get("arxiv_primary_category")
    names = [primary.get("term", "")] if isinstance(primary, dict) else []
    names += [from_title] if from_title else []
    names += [tag.get("term", "") for tag in entry.get("tags", []) if isinstance(tag, dict)]
    distinct = dict.fromkeys(name.strip() for name in names)
    return [name for name in distinct if CATEGORY_PATTERN.match(name)]


def _moment(value: object, keep_zone: bool = False) -> datetime | None:
    text = _text(value).strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment if keep_zone else moment.astimezone(UTC)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    text = _text(value).strip()
    return int(text) if text.isdigit() else None


def _identifier(entry: Mapping[str, Any], index: int) -> str:
    for key in ("id", "title", "link"):
        text = collapse_whitespace(_text(entry.get(key)))
        if text:
            return text[:80]
    return f"entry #{index + 1}"
