"""Writing fetched papers: one row per arXiv id whatever the source or version, plus snapshots.

Merge rules, so sources and versions can arrive in any order:
- text (title, abstract, authors) comes from the highest arXiv version seen; a source that
  names no version (Hugging Face) only fills text that is missing once a version is known;
- `published_at` keeps the earliest moment any source gave, `announced_on` the first day;
- other fields take the latest value a source had, and a sparse source never blanks one;
- each fetch that reports trend signals adds one snapshot per paper (repeats of a paper in
  the same fetch add none).

A paper that breaks a limit of `digest.papers.paper_problem` (a count beyond INTEGER, a NUL
or lone surrogate, text too long for its column) never reaches an INSERT: it is skipped
with its reason, so SQLite and PostgreSQL store exactly the same rows.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.papers import FetchedPaper, PaperText, paper_problem, strip_arxiv_version
from digest.store.models import Paper, SignalSnapshot

logger = logging.getLogger("digest.store.papers")

TEXT_FIELDS = ("title", "abstract", "authors")
EMBEDDED_FIELDS = ("title", "abstract")  # what a paper's embedding is made of
# Filled only when the fetch has a value, so a sparse source never erases a richer one.
OPTIONAL_FIELDS = (
    "categories",
    "keywords",
    "summary",
    "pdf_url",
    "code_url",
    "project_url",
    "thumbnail_url",
    "organisation",
    "doi",
    "listed_on",
)


@dataclass(frozen=True)
class StoreCounts:
    """Papers first seen, papers already known (refreshed), snapshots written, repeats merged.

    `skipped` names the papers refused as unstorable, as (arXiv id, reason).
    """

    new: int
    updated: int
    snapshots: int
    repeated: int = 0
    skipped: tuple[tuple[str, str], ...] = ()


def store_fetched(
    session: Session, papers: Sequence[FetchedPaper], observed_at: datetime, source: str
) -> StoreCounts:
    """Upsert `papers` by arXiv id and record their signals as seen at `observed_at`.

    Papers no database could store are left out and named in `skipped`.
    """
    papers, skipped = _storable(papers)
    merged = merge_duplicates(papers)
    if not merged:
        return StoreCounts(0, 0, 0, skipped=skipped)
    # Sorted so that two concurrent fetches lock rows in the same order (no deadlock).
    arxiv_ids = sorted(merged)
    known = _papers_by_arxiv_id(session, arxiv_ids)
    absent = [merged[arxiv_id] for arxiv_id in arxiv_ids if arxiv_id not in known]
    inserted = _insert_absent(session, absent, observed_at, source)
    # Inserted meanwhile by a concurrent fetch (committed now, since we waited on it).
    raced = [f.arxiv_id for f in absent if f.arxiv_id not in inserted]
    known.update(_papers_by_arxiv_id(session, raced))
    for arxiv_id, paper in known.items():
        _refresh(paper, merged[arxiv_id], source)
    session.flush()

    paper_ids = {**{a: p.id for a, p in known.items()}, **inserted}
    snapshots = _add_snapshots(session, merged, paper_ids, observed_at, source)
    return StoreCounts(
        new=len(inserted),
        updated=len(known),
        snapshots=snapshots,
        repeated=len(papers) - len(merged),
        skipped=skipped,
    )


def _storable(
    papers: Sequence[FetchedPaper],
) -> tuple[list[FetchedPaper], tuple[tuple[str, str], ...]]:
    """The papers that fit the columns of both databases, and the others with their reason.

    FetchedPaper checks this when it is made; checked again here because the store must not
    trust its callers (a paper can be built around its checks).
    """
    kept: list[FetchedPaper] = []
    skipped: list[tuple[str, str]] = []
    for paper in papers:
        problem = paper_problem(paper)
        if problem is None:
            kept.append(paper)
            continue
        identifier = ascii(paper.arxiv_id)[1:-1][:40]
        logger.warning("not storing paper %s: %s", identifier, problem)
        skipped.append((identifier, f"not stored: {problem}"))
    return kept, tuple(skipped)


def merge_duplicates(papers: Sequence[FetchedPaper]) -> dict[str, FetchedPaper]:
    """One entry per versionless arXiv id, merged by the same rules as the store."""
    merged: dict[str, FetchedPaper] = {}
    for paper in papers:
        arxiv_id = strip_arxiv_version(paper.arxiv_id)
        earlier = merged.get(arxiv_id)
        merged[arxiv_id] = paper if earlier is None else _overlay(earlier, paper)
    return merged


def _overlay(earlier: FetchedPaper, later: FetchedPaper) -> FetchedPaper:
    values: dict[str, Any] = {
        name: getattr(later, name) for name in OPTIONAL_FIELDS if _present(later, name)
    }
    if _text_wins(earlier.version, later.version):
        values.update({name: getattr(later, name) for name in TEXT_FIELDS if _present(later, name)})
    for name in ("upvotes", "comments", "stars"):
        if getattr(later, name) is not None:
            values[name] = getattr(later, name)
    return dataclasses.replace(
        earlier,
        url=later.url,
        version=_highest(earlier.version, later.version),
        published_at=_earliest(earlier.published_at, later.published_at),
        announced_on=earlier.announced_on or later.announced_on,
        **values,
    )


def _text_wins(stored: int | None, fetched: int | None) -> bool:
    """Whether text that came with version `fetched` replaces text of version `stored`."""
    if fetched is None:
        return stored is None
    return stored is None or fetched >= stored


def _highest(first: int | None, second: int | None) -> int | None:
    return max((v for v in (first, second) if v is not None), default=None)


def _earliest(first: datetime | None, second: datetime | None) -> datetime | None:
    return min((m for m in (first, second) if m is not None), default=None)


def _present(fetched: FetchedPaper, name: str) -> bool:
    value = getattr(fetched, name)
    return value is not None and value != "" and value != []


def _papers_by_arxiv_id(session: Session, arxiv_ids: list[str]) -> dict[str, Paper]:
    if not arxiv_ids:
        return {}
    rows = session.scalars(select(Paper).where(Paper.arxiv_id.in_(arxiv_ids)))
    return {paper.arxiv_id: paper for paper in rows}


def _insert_absent(
    session: Session, absent: list[FetchedPaper], observed_at: datetime, source: str
) -> dict[str, int]:
    """Insert the papers whose arXiv id no row has (even uncommitted elsewhere); their ids.

    One INSERT … ON CONFLICT DO NOTHING rather than SAVEPOINTs: pysqlite's SAVEPOINT
    handling would commit the first insert on its own, breaking the one-transaction write.
    """
    if not absent:
        return {}
    rows = [_row(fetched, observed_at, source) for fetched in absent]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(cast(Table, Paper.__table__))
        .on_conflict_do_nothing(index_elements=[Paper.arxiv_id])
        .returning(Paper.arxiv_id, Paper.id)
    )
    # Core executemany: one cached statement, sent in batches ("insertmanyvalues").
    result = session.connection().execute(statement, rows)
    return {arxiv_id: paper_id for arxiv_id, paper_id in result}


def _row(fetched: FetchedPaper, observed_at: datetime, source: str) -> dict[str, Any]:
    return {
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
        "organisation": fetched.organisation,
        "doi": fetched.doi,
        "published_at": fetched.published_at,
        "listed_on": fetched.listed_on,
        "announced_on": fetched.announced_on,
        "version": fetched.version,
        "source": source,
        "first_seen_at": observed_at,
        "updated_at": observed_at,
    }


def _refresh(paper: Paper, fetched: FetchedPaper, source: str) -> None:
    """Copy what the fetch knows onto the stored paper, by the merge rules above."""
    changes: dict[str, object] = {"url": fetched.url, "source": source}
    text_wins = _text_wins(paper.version, fetched.version)
    for name in TEXT_FIELDS:
        if _present(fetched, name) and (text_wins or not getattr(paper, name)):
            changes[name] = getattr(fetched, name)
    for name in OPTIONAL_FIELDS:
        if _present(fetched, name):
            changes[name] = getattr(fetched, name)
    changes["version"] = _highest(paper.version, fetched.version)
    changes["published_at"] = _earliest(paper.published_at, fetched.published_at)
    changes["announced_on"] = paper.announced_on or fetched.announced_on
    for name, value in changes.items():
        if getattr(paper, name) != value:
            setattr(paper, name, _copy(value))
            if name in EMBEDDED_FIELDS:
                paper.embedding_model = None  # new text: its vector is made again


def _copy(value: object) -> object:
    # A fresh list, so the ORM sees a new JSON value rather than the dataclass's list.
    return list(value) if isinstance(value, list) else value


def _add_snapshots(
    session: Session,
    merged: dict[str, FetchedPaper],
    paper_ids: dict[str, int],
    observed_at: datetime,
    source: str,
) -> int:
    with_signals = {paper_ids[a]: f for a, f in merged.items() if f.has_signals}
    if not with_signals:
        return 0
    # A paper met again later in the same fetch (next page, next day) gets no second one.
    already = set(
        session.scalars(
            select(SignalSnapshot.paper_id).where(
                SignalSnapshot.paper_id.in_(sorted(with_signals)),
                SignalSnapshot.observed_at == observed_at,
                SignalSnapshot.source == source,
            )
        )
    )
    added = 0
    for paper_id, fetched in with_signals.items():
        if paper_id in already:
            continue
        session.add(
            SignalSnapshot(
                paper_id=paper_id,
                observed_at=observed_at,
                source=source,
                upvotes=fetched.upvotes or 0,
                comments=fetched.comments or 0,
                stars=fetched.stars,
            )
        )
        added += 1
    session.flush()
    return added


def papers_to_embed(
    session: Session,
    model: str,
    limit: int,
    *,
    after_id: int = 0,
    touched_since: datetime | None = None,
    days: tuple[date, date] | None = None,
    redo: bool = False,
) -> list[tuple[int, PaperText]]:
    """Up to `limit` papers (by id, above `after_id`) without a vector made by `model`.

    Limited to the papers stored or changed since `touched_since` or that entered on a day
    in `days`, when either is given; `redo` takes every paper, whatever its vector.
    """
    query = select(Paper.id, Paper.title, Paper.abstract).where(Paper.id > after_id)
    if not redo:
        query = query.where(or_(Paper.embedding_model.is_(None), Paper.embedding_model != model))
    scope = []
    if touched_since is not None:
        scope.append(Paper.updated_at >= touched_since)
    if days is not None:
        scope.append(func.coalesce(Paper.listed_on, Paper.announced_on).between(*days))
    if scope:
        query = query.where(or_(*scope))
    rows = session.execute(query.order_by(Paper.id).limit(limit))
    return [
        (paper_id, PaperText(title=title, abstract=abstract)) for paper_id, title, abstract in rows
    ]


def save_embeddings(session: Session, vectors: dict[int, bytes], model: str) -> None:
    """Store each paper's vector (float32 little-endian bytes) as made by `model`."""
    if not vectors:
        return
    session.connection().execute(
        update(cast(Table, Paper.__table__))
        .where(Paper.__table__.c.id == bindparam("paper_id"))
        .values(embedding=bindparam("vector"), embedding_model=model),
        [{"paper_id": paper_id, "vector": vector} for paper_id, vector in vectors.items()],
    )


def paper_embeddings(session: Session, paper_ids: Sequence[int], model: str) -> dict[int, bytes]:
    """The stored vectors made by `model` of the papers in `paper_ids`."""
    found: dict[int, bytes] = {}
    ids = sorted(set(paper_ids))
    for start in range(0, len(ids), 1000):  # within every database's bound-parameter limit
        rows = session.execute(
            select(Paper.id, Paper.embedding).where(
                Paper.id.in_(ids[start : start + 1000]),
                Paper.embedding_model == model,
                Paper.embedding.is_not(None),
            )
        )
        found.update({paper_id: bytes(vector or b"") for paper_id, vector in rows})
    return found
