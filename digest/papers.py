"""The shapes a paper takes on its way through the stages, shared by all of them.

A source returns `FetchedPaper`s (with the HTTP `Validator` of the page they came on); the
store keeps them; ranking reads a `PaperText`; rendering shows an `EditionEntry`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Protocol

from digest.text import disallowed_in, readable

ARXIV_ABS_BASE = "https://arxiv.org/abs/"
ARXIV_PDF_BASE = "https://arxiv.org/pdf/"
HF_PAPER_BASE = "https://huggingface.co/papers/"

# New-style ids (2611.01234) and the pre-2007 archive/number form (hep-th/9901001); bounded,
# so an id always fits its column and a version its INTEGER.
ARXIV_ID_PATTERN = re.compile(
    r"^(?:\d{4}\.\d{4,5}|[a-z][a-z-]{0,15}(?:\.[A-Z]{2})?/\d{7})(?:v\d{1,4})?$"
)
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


def normal_title(title: str) -> str:
    """A title without case, accents, spaces or punctuation: how two spellings of one title
    are recognised (a pasted title against a stored one)."""
    decomposed = unicodedata.normalize("NFKD", title.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def abs_url(arxiv_id: str) -> str:
    return f"{ARXIV_ABS_BASE}{arxiv_id}"


def pdf_url(arxiv_id: str) -> str:
    return f"{ARXIV_PDF_BASE}{arxiv_id}"


def hf_paper_url(arxiv_id: str) -> str:
    return f"{HF_PAPER_BASE}{arxiv_id}"


# What a fetched paper may hold. Counts are clamped into range (a huge count still means
# "very popular"); text beyond a limit is no paper's text, and the paper is refused.
MAX_COUNT = 2**31 - 1  # PostgreSQL INTEGER
MAX_VERSION = 9999
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000  # arXiv allows 1,920 characters
MAX_AUTHORS = 10_000  # the largest collaborations sign with about 5,000
MAX_LIST = 500  # keywords, categories
MAX_NAME = 500  # one author, keyword or category
MAX_URL = 500  # the URL columns
MAX_DOI = 200  # the doi columns; real DOIs are far shorter
EARLIEST_MOMENT = datetime(1990, 1, 1, tzinfo=UTC)  # arXiv opened in 1991
LATEST_MOMENT = datetime(2200, 1, 1, tzinfo=UTC)


class InvalidPaper(ValueError):
    """A fetched paper that breaks a limit above; the message is the reason."""


def clamp_count(value: object) -> int | None:
    """A count clamped to at most MAX_COUNT, or None when `value` is not a count.

    A count is a whole number at least 0 (an int, an integral float, plain decimal text);
    one beyond MAX_COUNT (2**63, 1e308, Infinity, 5,000 digits) becomes MAX_COUNT. A
    negative or fractional number, NaN, a boolean, other text or types are no count.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        digits = value.strip()
        if not re.fullmatch(r"\+?[0-9]+", digits, re.ASCII):
            return None
        # Python refuses int() of very long digit strings; any that long is out of range.
        value = int(digits) if len(digits) <= 18 else MAX_COUNT
    if isinstance(value, float):
        if value == math.inf:
            return MAX_COUNT
        if not value.is_integer():  # NaN, -Infinity, 2.5
            return None
        value = int(value)
    if isinstance(value, int) and value >= 0:
        return min(value, MAX_COUNT)
    return None


def plausible_moment(moment: datetime | None) -> datetime | None:
    """`moment` (aware) if it lies between 1990 and 2200, else None: no paper is dated 9999."""
    if moment is None or moment.tzinfo is None:
        return None
    return moment if EARLIEST_MOMENT <= moment < LATEST_MOMENT else None


def paper_problem(paper: FetchedPaper) -> str | None:
    """Why `paper` must not be stored (a limit broken, a value no database takes), or None."""
    if not isinstance(paper.arxiv_id, str) or not ARXIV_ID_PATTERN.match(paper.arxiv_id):
        return f"{str(paper.arxiv_id)[:40]!r} is not an arXiv id"
    if not isinstance(paper.title, str) or not paper.title.strip():
        return "no title"
    texts = {"title": (paper.title, MAX_TITLE), "abstract": (paper.abstract, MAX_ABSTRACT)}
    texts["summary"] = (paper.summary or "", MAX_ABSTRACT)
    texts["organisation"] = (paper.organisation or "", MAX_NAME)
    texts["doi"] = (paper.doi or "", MAX_DOI)
    for name in ("url", "pdf_url", "code_url", "project_url", "thumbnail_url"):
        texts[name] = (getattr(paper, name) or "", MAX_URL)
    for name, (value, limit) in texts.items():
        problem = _text_problem(name, value, limit)
        if problem:
            return problem
    lists = {"authors": MAX_AUTHORS, "keywords": MAX_LIST, "categories": MAX_LIST}
    for name, limit in lists.items():
        values = getattr(paper, name)
        if not isinstance(values, list) or len(values) > limit:
            return f"{name}: more than {limit}" if isinstance(values, list) else f"{name}: no list"
        for value in values:
            problem = _text_problem(f"{name[:-1]} name", value, MAX_NAME)
            if problem:
                return problem
    if paper.version is not None and not _in_range(paper.version, 1, MAX_VERSION):
        return f"version {paper.version} out of range"
    for name in ("upvotes", "comments", "stars"):
        value = getattr(paper, name)
        if value is not None and not _in_range(value, 0, MAX_COUNT):
            return f"{name} {str(value)[:20]} out of range 0..{MAX_COUNT}"
    moment = paper.published_at
    if moment is not None and (
        not isinstance(moment, datetime) or plausible_moment(moment) is None
    ):
        return f"published_at {str(moment)[:40]} is not a plausible moment"
    for name in ("listed_on", "announced_on"):
        day = getattr(paper, name)
        if day is not None and not (
            isinstance(day, date)
            and EARLIEST_MOMENT.toordinal() <= day.toordinal() < LATEST_MOMENT.toordinal()
        ):
            return f"{name} {str(day)[:40]} is not a plausible day"
    return None


def _text_problem(name: str, value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return f"{name}: not text"
    if len(value) > limit:
        return f"{name} is {len(value)} characters long (at most {limit})"
    if disallowed_in(value):
        return f"{name} holds a control character or a lone surrogate"
    return None


def _in_range(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class FetchedPaper:
    """One paper as a source saw it, with its trend signals at that moment.

    `version` comes from an id like `2611.01234v2` when not given; `announced_on` is the
    day arXiv first announced it (new or cross-list); signals are None where a source has
    none (arXiv), and then no snapshot is written. A paper that breaks a limit (see
    `paper_problem`) raises InvalidPaper, so a source skips that item alone.
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
    organisation: str | None = None  # the lab or company the source names for the paper
    doi: str | None = None  # the journal DOI arXiv lists for the paper, if any
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
        problem = paper_problem(self)
        if problem:
            raise InvalidPaper(problem)

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

    @classmethod
    def of(cls, paper: HasPaperText) -> PaperText:
        """The text of a stored paper, an edition entry, or anything else that has it."""
        return cls(
            title=paper.title,
            abstract=paper.abstract,
            keywords=tuple(paper.keywords),
            categories=tuple(paper.categories),
            authors=tuple(paper.authors),
        )


class HasPaperText(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def abstract(self) -> str: ...
    @property
    def keywords(self) -> Sequence[str]: ...
    @property
    def categories(self) -> Sequence[str]: ...
    @property
    def authors(self) -> Sequence[str]: ...


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
    summary: str | None = None  # the source's machine-written one-liner (HF's ai_summary)
    keywords: list[str] = field(default_factory=list)
    thumbnail_url: str | None = None
    organisation: str | None = None

    @property
    def hf_url(self) -> str | None:
        """The paper's Hugging Face page, for papers that came from Hugging Face."""
        return hf_paper_url(self.arxiv_id) if self.source == "hf" else None


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
