"""The one place sources are registered: a name and a factory that builds it from settings.

Adding a source = writing its module (a class with `name` and `pages(day)`) and one line in
SOURCES. `file:PATH` is the one source that takes an argument.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from digest.errors import DigestError
from digest.papers import Validator
from digest.settings import SourceSettings
from digest.sources.arxiv import ArxivByCategory
from digest.sources.arxiv_feed import valid_categories
from digest.sources.base import Source
from digest.sources.file import FileSource
from digest.sources.hf import HuggingFaceDailyPapers
from digest.sources.http import PoliteHttp, polite_http
from digest.sources.politeness import arxiv_gate
from digest.sources.sample import SampleSource

logger = logging.getLogger("digest.sources.registry")


ValidatorLookup = Callable[[str], Validator | None]


@dataclass(frozen=True)
class SourceContext:
    """What a factory may use: settings, the worker's HTTP client, and what the caller
    knows from earlier runs (stored ETag / Last-Modified by URL, followed arXiv categories)."""

    settings: SourceSettings
    http: PoliteHttp
    validators: ValidatorLookup | None = None
    followed_categories: Sequence[str] = ()


def _hf(context: SourceContext) -> Source:
    settings = context.settings
    return HuggingFaceDailyPapers(
        context.http,
        settings.hf_api_url,
        settings.hf_token,
        page_size=settings.hf_page_size,
        validators=context.validators,
    )


def _arxiv(context: SourceContext) -> Source:
    settings = context.settings
    return ArxivByCategory(
        context.http,
        settings.arxiv_rss_url,
        settings.arxiv_api_url,
        arxiv_categories(context.followed_categories, settings),
        gate=arxiv_gate(
            settings.arxiv_lock_url,
            settings.arxiv_interval_seconds,
            hold_seconds=max(60.0, 3 * settings.timeout_seconds),
        ),
        page_size=settings.arxiv_page_size,
        validators=context.validators,
        today=lambda: datetime.now(UTC).date(),
    )


def _sample(context: SourceContext) -> Source:
    return SampleSource()


SOURCES: dict[str, Callable[[SourceContext], Source]] = {
    "hf": _hf,
    "arxiv": _arxiv,
    "sample": _sample,
}
SOURCE_CHOICES = ", ".join(SOURCES) + " or file:PATH"


def arxiv_categories(followed: Sequence[str], settings: SourceSettings) -> list[str]:
    """The valid categories among those followed, or DIGEST_ARXIV_DEFAULT_CATEGORIES if none."""
    return valid_categories(followed) or valid_categories(settings.arxiv_default_categories)


def source_for_name(
    name: str,
    settings: SourceSettings,
    http: PoliteHttp | httpx.Client,
    *,
    validators: ValidatorLookup | None = None,
    followed_categories: Sequence[str] = (),
) -> Source:
    """The source named on the command line: one of SOURCES, or `file:PATH`."""
    choice = name.strip()
    if choice.startswith("file:") and choice.removeprefix("file:").strip():
        return FileSource(choice.removeprefix("file:").strip())
    factory = SOURCES.get(choice)
    if factory is None:
        raise DigestError(f"unknown paper source {name!r}: choose {SOURCE_CHOICES}")
    polite = http if isinstance(http, PoliteHttp) else polite_http(settings, http)
    return factory(SourceContext(settings, polite, validators, followed_categories))
