"""arXiv by category: the daily announcement feed for recent days, the query API for backfill.

Every request waits for the shared turn (`gate`), so all workers together make at most one
request at a time, `DIGEST_ARXIV_INTERVAL_SECONDS` apart, as arXiv asks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import httpx

from digest.errors import SourceError
from digest.papers import Validator
from digest.sources.arxiv_feed import SOURCE_LABEL, parse_feed
from digest.sources.base import FetchResult
from digest.sources.http import PoliteHttp
from digest.sources.politeness import Gate

logger = logging.getLogger("digest.sources.arxiv")

CATEGORIES_PER_REQUEST = 10  # keeps feed URLs and query strings short
MAX_QUERY_RESULTS = 10_000  # the query API refuses to page much deeper


class ArxivByCategory:
    """New papers of the followed categories: `/rss/<a>+<b>` for the last two days, else the API.

    The announcement feed only ever shows the latest announcement, so older days (backfill)
    come from `/api/query` by submission date, paged with `start` and `max_results`.
    """

    name = "arxiv"

    def __init__(
        self,
        http: PoliteHttp,
        rss_url: str,
        api_url: str,
        categories: list[str],
        gate: Gate | None = None,
        page_size: int = 200,
        validators: Callable[[str], Validator | None] | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.http = http
        self.rss_url = rss_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.categories = categories
        self.gate = gate
        self.page_size = page_size
        self.validators = validators
        self.today = today
        self._feed_read = False

    def pages(self, day: date) -> Iterator[FetchResult]:
        """The announcement feed when `day` is recent (read once per source), else the API."""
        if day >= self.today() - timedelta(days=1):
            if not self._feed_read:
                self._feed_read = True
                for group in _groups(self.categories):
                    yield from self._feed(group, day)
            return
        for group in _groups(self.categories):
            yield from self._query(group, day)

    def _feed(self, categories: list[str], day: date) -> Iterator[FetchResult]:
        url = f"{self.rss_url}/rss/{'+'.join(categories)}"
        known = self.validators(url) if self.validators else None
        answer = self.http.get(url, SOURCE_LABEL, validator=known, gate=self.gate)
        if answer.not_modified and known is not None:
            yield FetchResult(validator=known, unchanged=True)
            return
        parsed = parse_feed(answer.content, f"from {url}", default_day=day)
        if not parsed.entries:
            logger.info("arXiv feed %s announces nothing (a weekend or holiday)", url)
        # A cut-short feed gets no validator: the next run must read it whole.
        validator = None if parsed.problem else answer.validator(parsed.entries)
        yield FetchResult(parsed.papers, parsed.skipped, validator)
        if parsed.problem:
            raise SourceError(parsed.problem)

    def _query(self, categories: list[str], day: date) -> Iterator[FetchResult]:
        cats = " OR ".join(f"cat:{name}" for name in categories)
        stamp = day.strftime("%Y%m%d")
        search = f"({cats}) AND submittedDate:[{stamp}0000 TO {stamp}2359]"
        start = 0
        while start < MAX_QUERY_RESULTS:
            params: dict[str, str | int] = {
                "search_query": search,
                "start": start,
                "max_results": self.page_size,
                "sortBy": "submittedDate",
                "sortOrder": "ascending",
            }
            url = str(httpx.URL(f"{self.api_url}/api/query", params=params))
            answer = self.http.get(url, SOURCE_LABEL, gate=self.gate)
            parsed = parse_feed(answer.content, f"from {url}", announcements=False)
            yield FetchResult(parsed.papers, parsed.skipped)
            if parsed.problem:
                raise SourceError(parsed.problem)
            start += parsed.entries
            total = parsed.total_results if parsed.total_results is not None else start
            if parsed.entries == 0 or start >= total:
                return


def _groups(categories: list[str]) -> Iterator[list[str]]:
    for index in range(0, len(categories), CATEGORIES_PER_REQUEST):
        yield categories[index : index + CATEGORIES_PER_REQUEST]
