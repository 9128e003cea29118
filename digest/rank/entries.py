"""What ranking hands to rendering: one ranked paper with the figures shown beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class EditionEntry:
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
