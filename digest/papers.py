"""The shapes a paper takes on its way through the stages, shared by all of them.

A source returns `FetchedPaper`s (with the HTTP `Validator` of the page they came on); the
store keeps them; ranking reads a `PaperText`; rendering shows an `EditionEntry`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from digest.text import readable

ARXIV_ABS_BASE = "https://arxiv.org/abs/"
ARXIV_PDF_BASE = "https://arxiv.org/pdf/"

# New-style ids (2611.01234) and the pre-2007 archive/number form (hep-th/9901001).
ARXIV_ID_PATTERN = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")
_VERSION_SUFFIX = re.compile(r"v(\d+)$")


_ID_PREFIX = re.compile(
    r"^(?:oai:arxiv\.org:|arxiv:|https?://(?:export\.)?arxiv\.org/(?:abs|pdf)/)", re.I
)


def normalise_arxiv_id(identifier: str, keep_version: bool = False) -> str | None:
    """The arXiv id in `identifier` (`arXiv:`, `oai:arXiv.org:` or an abs/pdf URL allowed), or None.

    Versionless unless `keep_version`.
    """
    candidate = _ID_PREFIX.sub("", identifier.strip()).strip().removesuffix(".pdf")
    if not ARXIV_ID_PATTERN.match(candidate):
        return None
    return candidate if keep_version else _VERSION_SUFFIX.sub("", candidate)


def strip_arxiv_version(arxiv_id: str) -> str:
    """`2611.01234v2` -> `2611.01234`; ids without a version come back unchanged."""
    return _VERSION_SUFFIX.sub("", arxiv_id.strip())


def arxiv_version(arxiv_id: str) -> int | None:
    """`2611.01234v2` -> 2; None when the id carries no version."""
    match = _VERSION_SUFFIX.search(arxiv_id.strip())
    return int(match.group(1)) if match else None


def abs_url(arxiv_id: str) -> str:
    return f"{ARXIV_ABS_BASE}{arxiv_id}"


def pdf_url(arxiv_id: str) -> str:
    return f"{ARXIV_PDF_BASE}{arxiv_id}"


@dataclass(frozen=True)
class FetchedPaper:
    """One paper as a source saw it, with its trend signals at that moment.

    `version` comes from an id like `2611.01234v2` when not given; `announced_on` is the
    day arXiv first announced it (new or cross-list); signals are None where a source has
    none (arXiv), and then no snapshot is written.
    """

    arxiv_id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    url: str = ""
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    thumbnail_url: str | None = None
    summary: str | None = None
    keywords: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    listed_on: date | None = None
    announced_on: date | None = None
    version: int | None = None
    upvotes: int | None = None
    comments: int | None = None
    stars: int | None = None

    def __post_init__(self) -> None:
        # Frozen, so the derived defaults are set through object.__setattr__.
        arxiv_id = strip_arxiv_version(self.arxiv_id)
        if self.version is None:
            object.__setattr__(self, "version", arxiv_version(self.arxiv_id))
        object.__setattr__(self, "arxiv_id", arxiv_id)
        object.__setattr__(self, "title", readable(self.title))
        object.__setattr__(self, "abstract", readable(self.abstract))
        if not self.url:
            object.__setattr__(self, "url", abs_url(arxiv_id))
        if self.published_at is not None and self.published_at.tzinfo is None:
            raise ValueError(f"published_at of {arxiv_id} must be timezone-aware")

    @property
    def has_signals(self) -> bool:
        """Whether the source reported any trend signal (upvotes, comments, stars)."""
        return self.upvotes is not None or self.comments is not None or self.stars is not None


@dataclass(frozen=True)
class Validator:
    """What a server said about one URL, to ask "has it changed?" next time."""

    url: str
    etag: str | None
    last_modified: str | None
    items: int  # how many items the answer held, so paging can go on past a 304


@dataclass(frozen=True)
class PaperText:
    """What ranking reads of a paper."""

    title: str
    abstract: str = ""
    keywords: Sequence[str] = field(default_factory=tuple)
    categories: Sequence[str] = field(default_factory=tuple)
    authors: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class EditionEntry:
    """One ranked paper with the figures shown beside it: what ranking hands to rendering."""

    rank: int
    score: float
    arxiv_id: str
    title: str
    abstract: str
    url: str
    authors: list[str] = field(default_factory=list)
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    published_at: datetime | None = None
    upvotes: int = 0
    comments: int = 0
    stars: int | None = None
    source: str = ""
    paper_id: int = 0
    why: str = ""  # one short line: why this paper is in this reader's digest
    categories: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PaperSignals:
    """A paper's signals now and at the start of the window (None: no snapshot that old)."""

    paper_id: int
    upvotes: int
    comments: int
    stars: int | None
    listed_at: datetime  # when the paper started to collect signals
    upvotes_before: int | None = None
    stars_before: int | None = None


def listed_moment(
    listed_on: date | None, published_at: datetime | None, fallback: datetime
) -> datetime:
    """The moment a paper entered the trending pool."""
    if listed_on is not None:
        return datetime.combine(listed_on, time(0, 0), tzinfo=UTC)
    if published_at is not None:
        return published_at
    return fallback


@dataclass(frozen=True)
class TrendScore:
    """A paper's trend score and the gains it was computed from, as frozen in a pool."""

    paper_id: int
    score: float
    upvote_gain: int
    star_gain: int
