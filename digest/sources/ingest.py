"""Fetch one day's papers from a source and store them: the ingest step of the pipeline."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime

import httpx

from digest.errors import DigestError, SourceError
from digest.settings import Settings
from digest.sources.base import Source
from digest.sources.file import FileSource
from digest.sources.hf import HuggingFaceDailyPapers
from digest.sources.sample import SampleSource
from digest.store.db import Database
from digest.store.papers import store_fetched
from digest.store.types import utcnow

logger = logging.getLogger("digest.sources.ingest")

SOURCE_CHOICES = "hf, sample or file:PATH"


@dataclass(frozen=True)
class IngestReport:
    """What one fetch did: distinct papers seen, new or refreshed, and what was skipped."""

    source: str
    day: date
    seen: int
    new: int
    updated: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    duration_seconds: float = 0.0

    @property
    def duration(self) -> float:
        """Seconds the fetch took (the CLI's name for `duration_seconds`)."""
        return self.duration_seconds


def fetch_and_store(
    db: Database, source: Source, day: date, now: datetime | None = None
) -> IngestReport:
    """Fetch `day` from `source` (no transaction open), then store it in one transaction.

    A SourceError is logged and re-raised; nothing is written and earlier data stays.
    """
    started = time.monotonic()
    try:
        result = source.fetch(day)
    except SourceError as exc:
        logger.error("fetch from %s for %s failed: %s", source.name, day.isoformat(), exc)
        raise
    with db.session() as session:
        counts = store_fetched(session, result.papers, now or utcnow(), source.name)
    report = IngestReport(
        source=source.name,
        day=day,
        seen=counts.new + counts.updated,
        new=counts.new,
        updated=counts.updated,
        skipped=list(result.skipped),
        duration_seconds=time.monotonic() - started,
    )
    logger.info(
        "fetched %s for %s: %d papers (%d new, %d updated), %d skipped in %.1f s",
        report.source,
        day.isoformat(),
        report.seen,
        report.new,
        report.updated,
        len(report.skipped),
        report.duration_seconds,
    )
    return report


def source_for_name(name: str, settings: Settings, client: httpx.Client) -> Source:
    """The source named on the command line: `hf`, `sample` or `file:PATH`."""
    choice = name.strip()
    if choice == "hf":
        return HuggingFaceDailyPapers(client, settings.hf_api_url, settings.hf_token)
    if choice == "sample":
        return SampleSource()
    if choice.startswith("file:") and choice.removeprefix("file:").strip():
        return FileSource(choice.removeprefix("file:").strip())
    raise DigestError(f"unknown paper source {name!r}: choose {SOURCE_CHOICES}")
