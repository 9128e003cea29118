"""Reading arXiv's Atom and RSS answers (announcement feeds and the query API) into papers.

feedparser reads every dialect arXiv has served (RSS 1.0 of the old export feeds, RSS 2.0
and Atom of rss.arxiv.org, the query API's Atom). It only ever gets a hardened document
(`hardened_document`): decoded, cleaned of the code points no text may carry, its
references made safe, and checked by defusedxml to declare no DTD, so no entity is ever
declared, let alone expanded, and nothing external is fetched. Fields are then read by
meaning: the id from `<id>`, the guid or the link, the announce type from
`arxiv:announce_type` or the older text markers.
"""

from __future__ import annotations

import codecs
import email.utils
import html.entities
import io
import logging
import re
import xml.sax
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree
import feedparser  # type: ignore[import-untyped]

from digest.errors import SourceError
from digest.papers import (
    MAX_DOI,
    MAX_TITLE,
    FetchedPaper,
    InvalidPaper,
    arxiv_version,
    clamp_count,
    normalise_arxiv_id,
    pdf_url,
    plausible_moment,
)
from digest.sources.base import as_source_error
from digest.text import clean_text, collapse_whitespace, disallowed_in, html_to_text

logger = logging.getLogger("digest.sources.arxiv")

SOURCE_LABEL = "arXiv"
CATEGORY_PATTERN = re.compile(r"^[a-z][a-z-]{0,19}(?:\.[A-Za-z][A-Za-z-]{0,19})?$")
NEW, CROSS, REPLACE = "new", "cross", "replace"
# The old export feeds put "(arXiv:2311.01234v2 [cs.CL] UPDATED)" at the end of the title.
_OLD_TITLE_SUFFIX = re.compile(r"\.?\s*\(arXiv:(\S+)\s*\[([^\]]*)\]\s*([A-Z ]*)\)\s*$")
# The XML declaration, whatever its length (one anchored match: linear), and its encoding.
_XML_DECLARATION = re.compile(r"<\?xml\s[^>]*\?>")
_XML_DECLARATION_BYTES = re.compile(rb"<\?xml\s[^>]*\?>")
_DECLARED_ENCODING = re.compile(rb"\sencoding\s*=\s*[\"']([A-Za-z0-9._-]{1,40})[\"']")
UTF8_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
# A DTD or an entity declaration, as a parser that stopped early may not have seen it.
_DECLARATION = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_HTML_DOCTYPE = re.compile(r"^\s*<!DOCTYPE\s+html\b", re.IGNORECASE)
# Any "&": a character reference, a named one, or a bare ampersand (no name, no ";").
_REFERENCE = re.compile(r"&(?:#([0-9]{1,10});|#[xX]([0-9a-fA-F]{1,8});|([A-Za-z_][\w.-]{0,40});)?")
_PREDEFINED = frozenset({"amp", "lt", "gt", "quot", "apos"})
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
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
    document = hardened_document(content, where)
    with as_source_error(SOURCE_LABEL, where):
        parsed = feedparser.parse(io.BytesIO(document), sanitize_html=False)
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
        except (SourceError, TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
            identifier = _identifier(entry, index)
            logger.warning("skipped arXiv entry %s: %s", identifier, exc)
            skipped.append((identifier, str(exc)))
    return ParsedFeed(
        papers=papers,
        skipped=skipped,
        entries=len(entries),
        total_results=clamp_count(_text(feed.get("opensearch_totalresults")) or None),
        announced_on=announced_on,
        problem=problem,
    )


def hardened_document(content: bytes, where: str) -> bytes:
    """The answer as UTF-8 XML that is safe to parse; SourceError if it declares a DTD.

    Bytes that are not text become U+FFFD, code points XML and the databases refuse (NUL,
    controls, surrogates, also as `&#0;`) are removed, a bare `&` or an unknown entity is
    kept as text and an HTML one (`&nbsp;`) as its character, so one bad entry cannot make
    the whole answer unreadable. arXiv never declares a DTD; one that does (a billion
    laughs, an external entity such as file:///etc/passwd) is refused whole, checked by
    defusedxml, which forbids DTDs, entity declarations and external references.
    """
    text = _REFERENCE.sub(_safe_reference, clean_text(_decoded(content, where)))
    document = _declared_utf8(text).encode("utf-8")
    with as_source_error(SOURCE_LABEL, where):
        try:
            defusedxml.ElementTree.fromstring(document, forbid_dtd=True)
        except defusedxml.DefusedXmlException as exc:
            raise _declares(where, text, type(exc).__name__) from None
        except ParseError:
            # Not well-formed (cut short, say): the parser may have stopped before a DTD.
            if _DECLARATION.search(text):
                raise _declares(where, text, "seen in a malformed document") from None
    return document


def _declared_utf8(text: str) -> str:
    """`text` led by a declaration of UTF-8, the encoding it is about to be written in.

    Its own declaration, of any length, is dropped: the one the parsers see first always
    names UTF-8, so none of them ever acts on an encoding the answer named (expat raises
    ValueError for UTF-7, LookupError for a name it does not know).
    """
    text = text.lstrip(" \t\r\n\ufeff")
    declaration = _XML_DECLARATION.match(text)
    return UTF8_DECLARATION + (text[declaration.end() :] if declaration else text)


def _declares(where: str, text: str, what: str) -> SourceError:
    if _HTML_DOCTYPE.search(text):  # an error page served as 200
        return SourceError(f"{SOURCE_LABEL}: answer {where} is not an RSS or Atom feed (HTML)")
    message = f"{SOURCE_LABEL}: answer {where} refused: it declares a DTD or entities ({what})"
    logger.warning(message)
    return SourceError(message)


def _decoded(content: bytes, where: str) -> str:
    for bom, codec in _BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(codec, errors="replace")
    declaration = _XML_DECLARATION_BYTES.match(content.lstrip())
    declared = _DECLARED_ENCODING.search(declaration.group(0)) if declaration else None
    codec = _text_codec(declared.group(1).decode("ascii")) if declared else "utf-8"
    try:
        return content.decode(codec)
    except (UnicodeError, ValueError):
        logger.warning(
            "%s: answer %s is not valid %s; bad bytes replaced", SOURCE_LABEL, where, codec
        )
    try:
        return content.decode(codec, errors="replace")
    except (UnicodeError, ValueError):  # a codec that cannot replace (punycode)
        return content.decode("utf-8", errors="replace")


def _text_codec(name: str) -> str:
    """The declared encoding if Python knows it as a text encoding, else arXiv's UTF-8."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return "utf-8"
    return info.name if getattr(info, "_is_text_encoding", True) else "utf-8"


def _safe_reference(match: re.Match[str]) -> str:
    decimal, hexadecimal, name = match.groups()
    if decimal or hexadecimal:
        code = int(decimal, 10) if decimal else int(hexadecimal, 16)
        allowed = code <= 0x10FFFF and not disallowed_in(chr(code))
        return match.group(0) if allowed else ""
    if name is None:
        return "&amp;"
    if name in _PREDEFINED:
        return match.group(0)
    expansion = html.entities.html5.get(f"{name};")
    if expansion is None:
        return f"&amp;{name};"
    return "".join(f"&#{ord(char)};" for char in expansion)


class UnusableEntry(SourceError):
    """An entry that cannot become a paper; the message is the reason."""


def parse_entry(entry: Mapping[str, Any], announced_on: date | None) -> FetchedPaper:
    """One feed entry or query result to a paper (announce type decides `announced_on`)."""
    raw_title = _text(entry.get("title"))
    if len(raw_title) > 4 * MAX_TITLE:  # before any pattern runs over it
        raise InvalidPaper(f"title is {len(raw_title)} characters long (at most {MAX_TITLE})")
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
        doi=_doi(entry),
    )


def _doi(entry: Mapping[str, Any]) -> str | None:
    """The journal DOI of `<arxiv:doi>` (the first, when it lists several), or None."""
    first = collapse_whitespace(_text(entry.get("arxiv_doi"))).split(" ")[0]
    return first.lower() if first.startswith("10.") and len(first) <= MAX_DOI else None


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
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset
        return None
    if plausible_moment(in_utc) is None:
        return None
    return moment if keep_zone else in_utc


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _identifier(entry: Mapping[str, Any], index: int) -> str:
    for key in ("id", "title", "link"):
        text = collapse_whitespace(_text(entry.get(key)))
        if text:
            return text[:80]
    return f"entry #{index + 1}"
