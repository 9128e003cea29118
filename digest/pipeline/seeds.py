"""Starting from a subscriber's own papers: read what they give, find text for each entry,
and store the seeds all at once or not at all.

An entry with a title and an abstract is used as it is. An arXiv id without text is found
in the store (a stored paper, or arXiv's answer kept from an earlier look-up) or else looked
up through the arXiv API once and kept. A DOI or a title without text is matched against
the stored papers (by DOI, by title without case, accents or punctuation), else it is not
found. Every entry that cannot be used is reported (`line 4: …`); unless the caller asks to
skip them, one such entry keeps the whole submission out, so nothing is half imported.
Seeds count as "more like this" ratings in ranking (`digest.pipeline.editions`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from digest.addresses import normalise_email
from digest.errors import DigestError
from digest.papers import normal_title
from digest.settings import Settings
from digest.sources.arxiv_lookup import Lookup, arxiv_lookup
from digest.sources.library import ParsedLibrary, SeedEntry, UnreadableLibrary, parse_submission
from digest.store.db import Database
from digest.store.seeds import (
    FILE,
    LOOKED_UP,
    SeedText,
    TooManySeeds,
    add_seeds,
    keep_lookups,
    known_by_arxiv_id,
    known_by_doi,
    known_by_title,
)
from digest.store.subscribers import find_by_email
from digest.store.types import utcnow

log = logging.getLogger(__name__)


@dataclass
class SeedReport:
    """What one submission did: papers added and already there (per subscriber, summed),
    and one line per entry that could not be used."""

    entries: int = 0
    added: int = 0
    already: int = 0
    problems: list[str] = field(default_factory=list)
    refused: str | None = None  # why nothing was stored, when nothing was
    total: dict[int, int] = field(default_factory=dict)  # seeds per subscriber afterwards

    @property
    def stored(self) -> bool:
        return self.refused is None


def subscriber_ids(db: Database, emails: Sequence[str]) -> list[int]:
    """The ids of these subscribers, in order; DigestError naming the first unknown one."""
    ids: list[int] = []
    with db.session() as session:
        for raw in emails:
            email = normalise_email(raw)
            subscriber = find_by_email(session, email)
            if subscriber is None:
                raise DigestError(f"no subscriber {email}")
            if subscriber.id not in ids:
                ids.append(subscriber.id)
    return ids


def seed_from_submission(
    db: Database,
    settings: Settings,
    subscriber_ids: Sequence[int],
    pasted: str,
    upload: bytes | None,
    filename: str | None,
    *,
    skip_bad: bool = False,
    interactive: bool = False,
) -> SeedReport:
    """`add_seed_papers` for what a person pasted and uploaded; a file that cannot be read
    at all is refused with the reason."""
    try:
        parsed = parse_submission(pasted, upload, filename)
    except UnreadableLibrary as exc:
        return SeedReport(refused=f"{exc}; nothing was added")
    return add_seed_papers(
        db, settings, subscriber_ids, parsed, skip_bad=skip_bad, interactive=interactive
    )


def add_seed_papers(
    db: Database,
    settings: Settings,
    subscriber_ids: Sequence[int],
    parsed: ParsedLibrary,
    *,
    skip_bad: bool = False,
    lookup: Lookup | None = None,
    interactive: bool = False,
) -> SeedReport:
    """Give each subscriber the submission's papers as seeds: all of them, or (with
    `skip_bad`) those that can be used; nothing at all when an entry cannot be used and
    `skip_bad` is off, or when a subscriber would pass DIGEST_SEED_PAPERS_MAX."""
    report = SeedReport(entries=len(parsed.entries))
    if not parsed.entries:
        report.refused = "no paper given: paste ids, DOIs or titles, or choose a file"
        return report
    resolved = _resolve(db, settings, parsed.entries, lookup, interactive)
    seeds: list[SeedText] = []
    for entry, found in zip(parsed.entries, resolved, strict=True):
        if isinstance(found, SeedText):
            seeds.append(found)
        else:
            report.problems.append(f"{entry.where}: {found}")
    if report.problems and not skip_bad:
        report.refused = _refusal(len(report.problems), len(parsed.entries))
        return report
    if not seeds:
        report.refused = "no entry can be used, so nothing was added"
        return report
    now = utcnow()
    try:
        with db.session() as session:
            for subscriber_id in subscriber_ids:
                done = add_seeds(session, subscriber_id, seeds, settings.web.seed_papers_max, now)
                report.added += done.added
                report.already += done.already
                report.total[subscriber_id] = done.total
    except TooManySeeds as exc:
        report.refused = str(exc)
        report.added = report.already = 0
        report.total = {}
    return report


def _resolve(
    db: Database,
    settings: Settings,
    entries: Sequence[SeedEntry],
    lookup: Lookup | None,
    interactive: bool,
) -> list[SeedText | str]:
    """For each entry, its seed or why it cannot be used."""
    usable = [entry for entry in entries if entry.problem is None]
    with db.session() as session:
        by_id = known_by_arxiv_id(
            session, [e.arxiv_id for e in usable if e.arxiv_id and not e.has_text]
        )
        by_doi = known_by_doi(
            session, [e.doi for e in usable if e.doi and not e.arxiv_id and not e.has_text]
        )
        by_title = known_by_title(
            session, [e.title for e in usable if e.title and not e.arxiv_id and not e.has_text]
        )
    missing = sorted(
        {e.arxiv_id for e in usable if e.arxiv_id and not e.has_text and e.arxiv_id not in by_id}
    )
    unreachable: str | None = None
    if missing:
        try:
            by_id.update(_looked_up(db, settings, missing, lookup, interactive))
        except DigestError as exc:
            log.warning("arXiv look-up of %d ids failed: %s", len(missing), exc)
            unreachable = str(exc)
    results: list[SeedText | str] = []
    for entry in entries:
        if entry.problem is not None:
            results.append(entry.problem)
        elif entry.has_text:
            results.append(
                SeedText(
                    entry.title, entry.abstract, entry.authors, (), entry.arxiv_id, entry.doi, FILE
                )
            )
        elif entry.arxiv_id:
            found = by_id.get(entry.arxiv_id)
            if found is not None:
                results.append(found)
            elif unreachable is not None and entry.arxiv_id in missing:
                results.append(f"arXiv could not be asked ({unreachable}); try again later")
            else:
                results.append(f"arXiv has no paper {entry.arxiv_id}")
        else:
            found = by_doi.get(entry.doi or "") or by_title.get(normal_title(entry.title))
            results.append(found if found is not None else _not_found(entry))
    return results


def _looked_up(
    db: Database, settings: Settings, ids: list[str], lookup: Lookup | None, interactive: bool
) -> dict[str, SeedText]:
    ask = lookup or arxiv_lookup(settings.sources, interactive=interactive)
    papers = ask(ids)
    with db.session() as session:
        keep_lookups(session, list(papers.values()), utcnow())
    return {
        arxiv_id: SeedText(
            paper.title,
            paper.abstract,
            tuple(paper.authors),
            tuple(paper.categories),
            arxiv_id,
            paper.doi,
            LOOKED_UP,
        )
        for arxiv_id, paper in papers.items()
    }


def _not_found(entry: SeedEntry) -> str:
    named = f"DOI {entry.doi}" if entry.doi else "this title"
    return (
        f"not found: no paper here has {named}, and the entry has no abstract to use "
        "(give its arXiv id, or its title and abstract)"
    )


def _refusal(bad: int, entries: int) -> str:
    if bad == entries:
        return "no entry can be used, so nothing was added"
    return f"{bad} of {entries} entries cannot be used, so nothing was added"
