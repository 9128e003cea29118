"""What every source returns: fetched papers, skipped items, and the Source interface."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

ARXIV_ABS_BASE = "https://arxiv.org/abs/"
ARXIV_PDF_BASE = "https://arxiv.org/pdf/"

# New-style ids (2611.01234) and the pre-2007 archive/number form (hep-th/9901001).
ARXIV_ID_PATTERN = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")
_VERSION_SUFFIX = re.compile(r"v\d+$")


def normalise_arxiv_id(identifier: str) -> str | None:
    """The versionless arXiv id in `identifier` (`arXiv:` prefix allowed), or None."""
    candidate = identifier.strip()
    if candidate[:6].lower() == "arxiv:":
        candidate = candidate[6:].strip()
    if not ARXIV_ID_PATTERN.match(candidate):
        return None
    return _VERSION_SUFFIX.sub("", candidate)


def strip_arxiv_version(arxiv_id: str) -> str:
    """`2611.01234v2` -> `2611.01234`; ids without a version come back unchanged."""
    return _VERSION_SUFFIX.sub("", arxiv_id.strip())


def abs_url(arxiv_id: str) -> str:
    return f"{ARXIV_ABS_BASE}{arxiv_id}"


def pdf_url(arxiv_id: str) -> str:
    return f"{ARXIV_PDF_BASE}{arxiv_id}"


@dataclass(frozen=True)
class FetchedPaper:
    """One paper as a source saw it, with its trend signals at that moment."""

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
    upvotes: int = 0
    comments: int = 0
    stars: int | None = None

    def __post_init__(self) -> None:
        # Frozen, so the derived defaults are set through object.__setattr__.
        arxiv_id = strip_arxiv_version(self.arxiv_id)
        object.__setattr__(self, "arxiv_id", arxiv_id)
        if not self.url:
            object.__setattr__(self, "url", abs_url(arxiv_id))
        if self.published_at is not None and self.published_at.tzinfo is None:
            raise ValueError(f"published_at of {arxiv_id} must be timezone-aware")


@dataclass(frozen=True)
class FetchResult:
    """The usable papers of one fetch and the (identifier, reason) of every skipped item."""

    papers: list[FetchedPaper] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


class Source(Protocol):
    """Anything that can list the papers featured on a day."""

    name: str

    def fetch(self, day: date) -> FetchResult:
        """The papers listed on `day`; raises SourceError when the source is unusable."""
        ...
