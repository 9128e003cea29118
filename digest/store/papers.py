"""Writing fetched papers: upsert by arXiv id and one signal snapshot per paper per fetch."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.sources.base import FetchedPaper, strip_arxiv_version
from digest.store.models import Paper, SignalSnapshot

# Filled only when the fetch has a value, so a sparse source never erases a richer one.
OPTIONAL_FIELDS = (
    "abstract",
    "authors",
    "categories",
    "keywords",
    "summary",
    "pdf_url",
    "code_url",
    "project_url",
    "thumbnail_url",
    "published_at",
    "listed_on",
)


@dataclass(frozen=True)
class StoreCounts:
    """Papers first seen, papers already known (refreshed), and snapshots written."""

    new: int
    updated: int
    snapshots: int


def store_fetched(
    session: Session, papers: Sequence[FetchedPaper], observed_at: datetime, source: str
) -> StoreCounts:
    """Upsert `papers` by arXiv id and record their signals as seen at `observed_at`."""
    merged = merge_duplicates(papers)
    # Sorted so that two concurrent fetches lock rows in the same order (no deadlock).
    arxiv_ids = sorted(merged)
    known = _papers_by_arxiv_id(session, arxiv_ids)
    new = updated = 0
    for arxiv_id in arxiv_ids:
        fetched = merged[arxiv_id]
        paper = known.get(arxiv_id)
        if paper is None:
            paper_id = _insert_if_absent(session, fetched, observed_at, source)
            if paper_id is not None:
                new += 1
                _add_snapshot(session, paper_id, fetched, observed_at, source)
                continue
            # Another fetch inserted it since we looked; it is committed, so load it.
            paper = session.scalars(select(Paper).where(Paper.arxiv_id == arxiv_id)).one()
        _refresh(paper, fetched, source)
        updated += 1
        _add_snapshot(session, paper.id, fetched, observed_at, source)
    session.flush()
    return StoreCounts(new=new, updated=updated, snapshots=new + updated)


def merge_duplicates(papers: Sequence[FetchedPaper]) -> dict[str, FetchedPaper]:
    """One entry per versionless arXiv id; later entries win where they have a value."""
    merged: dict[str, FetchedPaper] = {}
    for paper in papers:
        arxiv_id = strip_arxiv_version(paper.arxiv_id)
        earlier = merged.get(arxiv_id)
        merged[arxiv_id] = paper if earlier is None else _overlay(earlier, paper)
    return merged


def _overlay(earlier: FetchedPaper, later: FetchedPaper) -> FetchedPaper:
    values = {name: getattr(later, name) for name in OPTIONAL_FIELDS if _present(later, name)}
    return dataclasses.replace(
        earlier,
        title=later.title,
        url=later.url,
        upvotes=later.upvotes,
        comments=later.comments,
        stars=later.stars if later.stars is not None else earlier.stars,
        **values,
    )


def _present(fetched: FetchedPaper, name: str) -> bool:
    value = getattr(fetched, name)
    return value is not None and value != "" and value != []


def _papers_by_arxiv_id(session: Session, arxiv_ids: list[str]) -> dict[str, Paper]:
    if not arxiv_ids:
        return {}
    rows = session.scalars(select(Paper).where(Paper.arxiv_id.in_(arxiv_ids)))
    return {paper.arxiv_id: paper for paper in rows}


def _insert_if_absent(
    session: Session, fetched: FetchedPaper, observed_at: datetime, source: str
) -> int | None:
    """Insert the paper unless its arXiv id exists (even uncommitted elsewhere); its id or None.

    INSERT … ON CONFLICT DO NOTHING rather than a SAVEPOINT: pysqlite's SAVEPOINT handling
    would commit the first insert on its own, breaking the one-transaction write on SQLite.
    """
    values: dict[str, Any] = {
        "arxiv_id": fetched.arxiv_id,
        "title": fetched.title,
        "abstract": fetched.abstract,
        "authors": list(fetched.authors),
        "categories": list(fetched.categories),
        "keywords": list(fetched.keywords),
        "summary": fetched.summary,
        "url": fetched.url,
        "pdf_url": fetched.pdf_url,
        "code_url": fetched.code_url,
        "project_url": fetched.project_url,
        "thumbnail_url": fetched.thumbnail_url,
        "published_at": fetched.published_at,
        "listed_on": fetched.listed_on,
        "source": source,
        "first_seen_at": observed_at,
        "updated_at": observed_at,
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(Paper)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Paper.arxiv_id])
        .returning(Paper.id)
    )
    paper_id: int | None = session.execute(statement).scalar_one_or_none()
    return paper_id


def _refresh(paper: Paper, fetched: FetchedPaper, source: str) -> None:
    """Copy what the fetch knows onto the stored paper, never blanking a known value."""
    changes: dict[str, object] = {"title": fetched.title, "url": fetched.url, "source": source}
    for name in OPTIONAL_FIELDS:
        if _present(fetched, name):
            changes[name] = getattr(fetched, name)
    for name, value in changes.items():
        if getattr(paper, name) != value:
            setattr(paper, name, _copy(value))


def _copy(value: object) -> object:
    # A fresh list, so the ORM sees a new JSON value rather than the dataclass's list.
    return list(value) if isinstance(value, list) else value


def _add_snapshot(
    session: Session, paper_id: int, fetched: FetchedPaper, observed_at: datetime, source: str
) -> None:
    session.add(
        SignalSnapshot(
            paper_id=paper_id,
            observed_at=observed_at,
            source=source,
            upvotes=fetched.upvotes,
            comments=fetched.comments,
            stars=fetched.stars,
        )
    )
