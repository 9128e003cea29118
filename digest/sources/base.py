"""What every source returns: fetched papers, skipped items, and the Source interface.

A source is one module with one class that has a `name` and a `pages(day)` method; it is
registered in `digest.sources.registry`. Nothing else in digest needs to know about it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from digest.errors import SourceError
from digest.papers import FetchedPaper, Validator


@dataclass(frozen=True)
class FetchResult:
    """One page of a fetch: its usable papers and the (identifier, reason) of skipped items.

    `validator` is stored with the page's papers, in the same transaction; `unchanged` marks
    a page the server answered 304 Not Modified for (nothing to store).
    """

    papers: list[FetchedPaper] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    validator: Validator | None = None
    unchanged: bool = False


class Source(Protocol):
    """Anything that can list the papers of a day, a page at a time."""

    name: str

    def pages(self, day: date) -> Iterator[FetchResult]:
        """The papers of `day`, page by page; raises SourceError when the source is unusable.

        Pages already yielded are kept when a later one fails.
        """
        ...


def collect(source: Source, day: date) -> FetchResult:
    """Every page of `day` in one result (for small sources and tests; ingest streams)."""
    papers: list[FetchedPaper] = []
    skipped: list[tuple[str, str]] = []
    for page in source.pages(day):
        papers.extend(page.papers)
        skipped.extend(page.skipped)
    return FetchResult(papers=papers, skipped=skipped)


@contextmanager
def as_source_error(label: str, where: str) -> Iterator[None]:
    """Around a library call that decodes or parses a source's bytes (feedparser, expat,
    httpx's decompressors): whatever it raises is caused by those bytes, so it becomes a
    SourceError with a one-line reason. Put only such calls inside, so that an error of
    our own code is never mistaken for a bad answer.

    The email package, expat and the codecs raise ValueError, LookupError, UnicodeError,
    RecursionError, OverflowError and more on hostile input, with no common base class.
    """
    try:
        yield
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"{label}: answer {where} cannot be read ({one_line(exc)})") from None


def one_line(exc: BaseException) -> str:
    """An exception as "Type: message" on one line, at most 200 characters of message."""
    message = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
