"""Fetch a window of days from a source and store it page by page, recording the run.

Each page is written in its own transaction together with its HTTP validators, so memory
stays flat however many pages a run has, and a failure keeps every page stored before it.
A page the database refuses a value of is stored paper by paper instead, so one bad paper
is skipped with its reason and the others are kept.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import httpx
from sqlalchemy.exc import DataError

from digest.errors import SourceError
from digest.papers import FetchedPaper, Validator
from digest.rank.embed import Embedder, encode_papers, to_bytes
from digest.semantic import embedding_model_name, load_embedder
from digest.settings import Settings
from digest.sources.arxiv_feed import valid_categories
from digest.sources.base import FetchResult, Source
from digest.sources.http import PoliteHttp, shared_http
from digest.sources.registry import SOURCE_CHOICES, source_for_name
from digest.store.arxiv_follows import followed_categories
from digest.store.db import Database
from digest.store.fetch_runs import RunTotals, finish_run, last_good_window_end, start_run
from digest.store.http_validators import load_validator, save_validator
from digest.store.papers import StoreCounts, papers_to_embed, save_embeddings, store_fetched
from digest.store.types import utcnow

__all__ = [
    "SOURCE_CHOICES",
    "IngestReport",
    "build_source",
    "embed_papers",
    "fetch_and_store",
    "fetch_window",
]

logger = logging.getLogger("digest.pipeline.fetch")

MAX_FAILED_DAYS_IN_A_ROW = 3  # then the source is down, not one day broken: stop trying
SKIPPED_KEPT = 100  # reasons kept in the report; the count covers all
CATCH_UP_DAYS = 7
EMBED_BATCH = 256  # papers read, embedded and written per transaction
# What a database raises for one value it cannot take (PostgreSQL: out of range, too long,
# NUL; SQLite: an int beyond 64 bits, a lone surrogate), as opposed to being unreachable.
REFUSED_VALUE = (DataError, OverflowError, UnicodeEncodeError)

DayDone = Callable[[date, "IngestReport"], None]


@dataclass(frozen=True)
class IngestReport:
    """What one run did over its window: distinct papers per page, new, refreshed, skipped."""

    source: str
    day: date
    seen: int
    new: int
    updated: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    duration_seconds: float = 0.0
    until: date | None = None
    skipped_count: int = 0
    unchanged: int = 0
    error: str | None = None
    run_id: int | None = None

    @property
    def duration(self) -> float:
        """Seconds the fetch took (the CLI's name for `duration_seconds`)."""
        return self.duration_seconds


@dataclass
class _Tally:
    seen: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_count: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def skip(self, reasons: list[tuple[str, str]]) -> None:
        self.skipped_count += len(reasons)
        self.skipped.extend(reasons[: max(0, SKIPPED_KEPT - len(self.skipped))])

    def totals(self) -> RunTotals:
        return RunTotals(self.seen, self.new, self.updated, self.skipped_count, self.unchanged)


def fetch_window(
    db: Database,
    source: Source,
    start: date,
    end: date,
    now: datetime | None = None,
    on_day: DayDone | None = None,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Fetch and store every day from `start` to `end`; never raises SourceError.

    A day that fails is recorded in the report's `error` and the next day is tried; after
    MAX_FAILED_DAYS_IN_A_ROW failures in a row the run stops. With an `embedder`, the papers
    of the window (and any the run stored or changed) that lack its vector get one after.
    """
    observed_at = now or utcnow()
    started = time.monotonic()
    with db.session() as session:
        run_id = start_run(session, source.name, start, end, observed_at)
    tally = _Tally()
    finished = False
    try:
        failed_in_a_row = 0
        day = start
        while day <= end and failed_in_a_row < MAX_FAILED_DAYS_IN_A_ROW:
            error = _fetch_day(db, source, day, observed_at, tally)
            failed_in_a_row = failed_in_a_row + 1 if error else 0
            if on_day is not None:
                on_day(day, _report(source, start, end, tally, started, run_id))
            day += timedelta(days=1)
        if day <= end:
            tally.errors.append(f"stopped before {day}: {MAX_FAILED_DAYS_IN_A_ROW} days failed")
        finished = True
    finally:
        if not finished:
            tally.errors.append("interrupted")
        report = _report(source, start, end, tally, started, run_id)
        with db.session() as session:
            finish_run(
                session, run_id, tally.totals(), utcnow(), report.duration_seconds, report.error
            )
    _log(report)
    if embedder is not None:
        _embed_fetched(db, embedder, observed_at, (start, end))
    return report


def embed_papers(
    db: Database,
    embedder: Embedder,
    *,
    redo: bool = False,
    touched_since: datetime | None = None,
    days: tuple[date, date] | None = None,
) -> int:
    """Embed the stored papers without a vector from `embedder` (all of them if `redo`).

    `touched_since` and `days` narrow it as in `papers_to_embed`. Returns the papers embedded.
    """
    model = embedding_model_name(embedder)
    done, after_id = 0, 0
    while True:
        with db.session() as session:
            batch = papers_to_embed(
                session,
                model,
                EMBED_BATCH,
                after_id=after_id,
                touched_since=touched_since,
                days=days,
                redo=redo,
            )
        if not batch:
            return done
        vectors = encode_papers(embedder, [text for _, text in batch])
        with db.session() as session:
            save_embeddings(
                session,
                {
                    paper_id: to_bytes(row)
                    for (paper_id, _), row in zip(batch, vectors, strict=True)
                },
                model,
            )
        done += len(batch)
        after_id = batch[-1][0]


def _embed_fetched(
    db: Database, embedder: Embedder, observed_at: datetime, days: tuple[date, date]
) -> None:
    started = time.monotonic()
    try:
        count = embed_papers(db, embedder, touched_since=observed_at, days=days)
    # Whatever the model raises: the papers are stored, and ranking does without vectors.
    except Exception as exc:
        logger.error("embedding the fetched papers failed: %s", _brief(exc))
        return
    if count:
        logger.info("embedded %d papers in %.1f s", count, time.monotonic() - started)


def _fetch_day(
    db: Database, source: Source, day: date, observed_at: datetime, tally: _Tally
) -> str | None:
    """Store every page of `day`; the SourceError message if the source failed part-way."""
    try:
        for page in source.pages(day):
            _store_page(db, source.name, page, observed_at, tally)
    except SourceError as exc:
        logger.error("fetch from %s for %s failed: %s", source.name, day.isoformat(), exc)
        tally.errors.append(f"{day}: {exc}" if len(tally.errors) else str(exc))
        return str(exc)
    return None


def _store_page(
    db: Database, source: str, page: FetchResult, observed_at: datetime, tally: _Tally
) -> None:
    if page.unchanged:
        tally.unchanged += 1
        return
    repeats = Counter(paper.arxiv_id for paper in page.papers)
    repeated = [(i, f"listed {n} times in one answer; merged") for i, n in repeats.items() if n > 1]
    try:
        with db.session() as session:
            counts = store_fetched(session, page.papers, observed_at, source)
            if page.validator is not None:
                save_validator(session, page.validator)
    except REFUSED_VALUE as exc:
        logger.warning(
            "the database refused a value on a page from %s (%s); storing its papers one by one",
            source,
            _brief(exc),
        )
        # No validator saved: the next run reads this page whole again.
        counts = _store_one_by_one(db, source, page.papers, observed_at)
    tally.seen += counts.new + counts.updated
    tally.new += counts.new
    tally.updated += counts.updated
    tally.skip(list(page.skipped) + repeated + list(counts.skipped))


def _store_one_by_one(
    db: Database, source: str, papers: list[FetchedPaper], observed_at: datetime
) -> StoreCounts:
    new = updated = snapshots = 0
    skipped: list[tuple[str, str]] = []
    for paper in papers:
        try:
            with db.session() as session:
                counts = store_fetched(session, [paper], observed_at, source)
        except REFUSED_VALUE as exc:
            identifier = ascii(paper.arxiv_id)[1:-1][:40]
            logger.warning(
                "not storing paper %s: the database refused it (%s)", identifier, _brief(exc)
            )
            skipped.append((identifier, f"refused by the database ({_brief(exc)})"))
            continue
        new, updated = new + counts.new, updated + counts.updated
        snapshots += counts.snapshots
        skipped.extend(counts.skipped)
    return StoreCounts(new, updated, snapshots, skipped=tuple(skipped))


def _brief(exc: Exception) -> str:
    """The first line of a database error, without the SQL and parameters it carries."""
    original = getattr(exc, "orig", None) or exc
    return " ".join(str(original).split("\n", 1)[0].split())[:160]


def _report(
    source: Source, start: date, end: date, tally: _Tally, started: float, run_id: int
) -> IngestReport:
    return IngestReport(
        source=source.name,
        day=start,
        until=end,
        seen=tally.seen,
        new=tally.new,
        updated=tally.updated,
        skipped=list(tally.skipped),
        skipped_count=tally.skipped_count,
        unchanged=tally.unchanged,
        duration_seconds=time.monotonic() - started,
        error="; ".join(tally.errors) or None,
        run_id=run_id,
    )


def _log(report: IngestReport) -> None:
    window = str(report.day)
    if report.until not in (None, report.day):
        window += f"..{report.until}"
    logger.info(
        "fetched %s for %s: %d papers (%d new, %d updated), %d skipped, %d unchanged pages "
        "in %.1f s%s",
        report.source,
        window,
        report.seen,
        report.new,
        report.updated,
        report.skipped_count,
        report.unchanged,
        report.duration_seconds,
        f"; error: {report.error}" if report.error else "",
    )


def fetch_and_store(
    db: Database, source: Source, day: date, now: datetime | None = None
) -> IngestReport:
    """Fetch and store one day; raises SourceError (after storing what was valid) on failure."""
    report = fetch_window(db, source, day, day, now)
    if report.error:
        raise SourceError(report.error)
    return report


def run_fetch(
    db: Database,
    settings: Settings,
    source_name: str,
    start: date,
    end: date,
    on_day: DayDone | None = None,
) -> IngestReport:
    """Build the named source on this worker's shared HTTP client and fetch the window."""
    source = build_source(source_name, settings, shared_http(settings.sources), db)
    embedder = load_embedder(settings)
    return fetch_window(db, source, start, end, on_day=on_day, embedder=embedder)


def scheduled_fetch(
    db: Database, settings: Settings, source_name: str, today: date | None = None
) -> IngestReport:
    """Beat's fetch: from the last day a good run covered (at most a week back) to today.

    So a worker that was down for a few days catches up by itself, and yesterday is read
    once more after midnight with its final counts.
    """
    end = today or utcnow().date()
    with db.session() as session:
        last = last_good_window_end(session, source_name.strip())
    start = end if last is None else max(min(last, end), end - timedelta(days=CATCH_UP_DAYS))
    return run_fetch(db, settings, source_name, start, end)


def build_source(
    name: str, settings: Settings, http: PoliteHttp | httpx.Client, db: Database | None = None
) -> Source:
    """The named source, told what the store knows: HTTP validators and followed categories."""
    if db is None:
        return source_for_name(name, settings.sources, http)

    def validators(url: str) -> Validator | None:
        with db.session() as session:
            return load_validator(session, url)

    return source_for_name(
        name,
        settings.sources,
        http,
        validators=validators,
        followed_categories=followed_arxiv_categories(db),
    )


def followed_arxiv_categories(db: Database) -> list[str]:
    """The valid arXiv categories active subscribers follow."""
    with db.session() as session:
        return valid_categories(followed_categories(session))
