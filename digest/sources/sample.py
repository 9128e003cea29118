"""Invented sample papers shipped with digest, so the demo works offline on any day."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path

from digest.papers import FetchedPaper
from digest.sources.base import FetchResult, collect
from digest.sources.file import FileSource


def sample_path() -> Path:
    """Where the packaged sample file lives."""
    return Path(str(resources.files("digest.sources").joinpath("sample_papers.json")))


class SampleSource:
    """The packaged sample, moved in time so its papers are always listed on the asked day."""

    name = "sample"

    def __init__(self, path: str | Path | None = None) -> None:
        self.file = FileSource(path or sample_path())

    def pages(self, day: date) -> Iterator[FetchResult]:
        """The sample papers, listed on `day` and published as many days before as written."""
        result = collect(self.file, day)
        yield FetchResult([_moved_to(paper, day) for paper in result.papers], result.skipped)


def _moved_to(paper: FetchedPaper, day: date) -> FetchedPaper:
    # Shift both dates by the same amount, keeping the file's "published N days before".
    listed_on = paper.listed_on or day
    if paper.published_at is None:
        published_at = datetime.combine(day - timedelta(days=1), time(18, 0), tzinfo=UTC)
    else:
        published_at = paper.published_at + (day - listed_on)
    return dataclasses.replace(paper, listed_on=day, published_at=published_at)
