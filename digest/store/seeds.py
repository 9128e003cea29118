"""Seed papers: the papers a subscriber gave as ones they like, and what the store knows that
lets an entry without text be used (stored papers by arXiv id, DOI or title, and arXiv's
answers kept in `arxiv_lookups`).

A subscriber's seeds are added all at once or not at all (`add_seeds`), never past
`most`; each paper once per subscriber (`SeedPaper.key`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.papers import FetchedPaper, PaperText, normal_title
from digest.store.models import ArxivLookup, Paper, SeedPaper

FILE, LOOKED_UP, STORED = "file", "arxiv", "stored"  # where a seed's text came from
MAX_KEY = 300


class TooManySeeds(DigestError):
    """A submission that would give a subscriber more seed papers than allowed."""


@dataclass(frozen=True)
class SeedText:
    """A paper to seed with: its text and what names it."""

    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    arxiv_id: str | None = None
    doi: str | None = None
    origin: str = FILE

    @property
    def key(self) -> str:
        """One paper, one key: its arXiv id, else its DOI, else its title."""
        if self.arxiv_id:
            return f"arxiv:{self.arxiv_id}"
        if self.doi:
            return f"doi:{self.doi}"[:MAX_KEY]
        return f"title:{normal_title(self.title)}"[:MAX_KEY]


@dataclass
class SeedsAdded:
    added: int = 0
    already: int = 0
    total: int = 0  # the subscriber's seed papers after the change


@dataclass(frozen=True)
class Seed:
    """A stored seed paper as the preferences page lists it."""

    id: int
    title: str
    authors: list[str]
    arxiv_id: str | None
    doi: str | None
    origin: str
    added_at: datetime
    url: str | None = field(default=None)


# --- finding text for entries that came without it -------------------------------------


def _text_of_paper(paper: Paper | ArxivLookup) -> SeedText:
    """A stored paper's text, or arXiv's kept answer's, as a seed."""
    origin = STORED if isinstance(paper, Paper) else LOOKED_UP
    return SeedText(
        paper.title,
        paper.abstract,
        tuple(paper.authors),
        tuple(paper.categories),
        paper.arxiv_id,
        paper.doi,
        origin,
    )


def known_by_arxiv_id(session: Session, arxiv_ids: Iterable[str]) -> dict[str, SeedText]:
    """The text the store has for these ids: a stored paper with an abstract, else arXiv's
    kept answer."""
    wanted = sorted(set(arxiv_ids))
    if not wanted:
        return {}
    found = {
        row.arxiv_id: _text_of_paper(row)
        for row in session.scalars(select(ArxivLookup).where(ArxivLookup.arxiv_id.in_(wanted)))
    }
    for paper in session.scalars(select(Paper).where(Paper.arxiv_id.in_(wanted))):
        if paper.abstract.strip() or paper.arxiv_id not in found:
            found[paper.arxiv_id] = _text_of_paper(paper)
    return found


def known_by_doi(session: Session, dois: Iterable[str]) -> dict[str, SeedText]:
    """Stored papers (and kept arXiv answers) whose DOI is one of these (lower case)."""
    wanted = sorted({doi.lower() for doi in dois})
    if not wanted:
        return {}
    found = {
        (row.doi or "").lower(): _text_of_paper(row)
        for row in session.scalars(select(ArxivLookup).where(ArxivLookup.doi.in_(wanted)))
    }
    for paper in session.scalars(select(Paper).where(func.lower(Paper.doi).in_(wanted))):
        found[(paper.doi or "").lower()] = _text_of_paper(paper)
    return found


def known_by_title(session: Session, titles: Iterable[str]) -> dict[str, SeedText]:
    """Stored papers (and kept arXiv answers) with one of these titles, by `normal_title`.

    One pass over the titles: a leading-wildcard search could not use an index either."""
    wanted = {normal_title(title) for title in titles} - {""}
    if not wanted:
        return {}
    matched: dict[str, int] = {}
    for paper_id, title in session.execute(select(Paper.id, Paper.title)).yield_per(5000):
        key = normal_title(title)
        if key in wanted:
            matched.setdefault(key, paper_id)
    found: dict[str, SeedText] = {}
    for row in session.scalars(select(ArxivLookup)).yield_per(5000):
        key = normal_title(row.title)
        if key in wanted:
            found.setdefault(key, _text_of_paper(row))
    if matched:
        for paper in session.scalars(select(Paper).where(Paper.id.in_(matched.values()))):
            found[normal_title(paper.title)] = _text_of_paper(paper)
    return found


def keep_lookups(session: Session, papers: Sequence[FetchedPaper], now: datetime) -> None:
    """Keep arXiv's answers, so the same id is never asked for again."""
    rows = [
        {
            "arxiv_id": paper.arxiv_id,
            "doi": paper.doi,
            "title": paper.title,
            "abstract": paper.abstract,
            "authors": list(paper.authors),
            "categories": list(paper.categories),
            "looked_up_at": now,
        }
        for paper in papers
    ]
    if not rows:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(cast(Table, ArxivLookup.__table__)).on_conflict_do_nothing(
        index_elements=[ArxivLookup.arxiv_id]
    )
    session.execute(statement, rows)


# --- a subscriber's seeds ---------------------------------------------------------------


def add_seeds(
    session: Session, subscriber_id: int, seeds: Sequence[SeedText], most: int, now: datetime
) -> SeedsAdded:
    """Add the seeds the subscriber does not have yet; TooManySeeds (nothing added) when they
    would then have more than `most`."""
    have = set(
        session.scalars(select(SeedPaper.key).where(SeedPaper.subscriber_id == subscriber_id))
    )
    new: dict[str, SeedText] = {}
    for seed in seeds:
        if seed.key not in have:
            new.setdefault(seed.key, seed)
    if len(have) + len(new) > most:
        raise TooManySeeds(
            f"a subscriber can keep at most {most} papers: there are {len(have)} and this "
            f"adds {len(new)}"
        )
    for key, seed in new.items():
        session.add(
            SeedPaper(
                subscriber_id=subscriber_id,
                key=key,
                arxiv_id=seed.arxiv_id,
                doi=seed.doi,
                title=seed.title,
                abstract=seed.abstract,
                authors=list(seed.authors),
                categories=list(seed.categories),
                origin=seed.origin,
                created_at=now,
            )
        )
    session.flush()
    return SeedsAdded(len(new), len(seeds) - len(new), len(have) + len(new))


def seeds_of(session: Session, subscriber_ids: Sequence[int]) -> dict[int, list[PaperText]]:
    """Each subscriber's seed papers as ranking reads them, oldest first."""
    found: dict[int, list[PaperText]] = defaultdict(list)
    if not subscriber_ids:
        return found
    rows = session.execute(
        select(
            SeedPaper.subscriber_id,
            SeedPaper.title,
            SeedPaper.abstract,
            SeedPaper.authors,
            SeedPaper.categories,
        )
        .where(SeedPaper.subscriber_id.in_(subscriber_ids))
        .order_by(SeedPaper.id)
    )
    for subscriber_id, title, abstract, authors, categories in rows:
        found[subscriber_id].append(
            PaperText(title, abstract, categories=tuple(categories), authors=tuple(authors))
        )
    return found


def list_seeds(session: Session, subscriber_id: int) -> list[Seed]:
    rows = session.scalars(
        select(SeedPaper).where(SeedPaper.subscriber_id == subscriber_id).order_by(SeedPaper.id)
    )
    return [
        Seed(
            row.id,
            row.title,
            list(row.authors),
            row.arxiv_id,
            row.doi,
            row.origin,
            row.created_at,
            f"https://arxiv.org/abs/{row.arxiv_id}"
            if row.arxiv_id
            else (f"https://doi.org/{row.doi}" if row.doi else None),
        )
        for row in rows
    ]


def remove_seeds(session: Session, subscriber_id: int, seed_ids: Sequence[int] | None) -> int:
    """Remove these seed papers of the subscriber (all of them for None); how many went."""
    statement = delete(SeedPaper).where(SeedPaper.subscriber_id == subscriber_id)
    if seed_ids is not None:
        statement = statement.where(SeedPaper.id.in_(seed_ids))
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
