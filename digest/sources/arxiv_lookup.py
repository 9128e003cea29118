"""Papers by arXiv id, from the query API's `id_list`: what a subscriber's seed papers need
when they come without text.

The same rules as every arXiv request: the shared one-at-a-time turn (`gate`,
DIGEST_ARXIV_INTERVAL_SECONDS apart), the polite HTTP client (User-Agent with the contact,
timeouts, retries, a size cap) and DIGEST_ARXIV_API_URL as the base. Ids go 100 to a
request. The caller keeps the answers (the store's `arxiv_lookups`), so an id is asked for
once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx

from digest.papers import FetchedPaper
from digest.settings import SourceSettings
from digest.sources.arxiv_feed import SOURCE_LABEL, parse_feed
from digest.sources.http import PoliteHttp, RetryPolicy, make_http_client
from digest.sources.politeness import Gate, arxiv_gate

IDS_PER_REQUEST = 100
# A person waits on the page: fewer retries and a shorter wait for the turn than a fetch.
INTERACTIVE_ATTEMPTS = 2
INTERACTIVE_TURN_WAIT_SECONDS = 30.0

Lookup = Callable[[Sequence[str]], dict[str, FetchedPaper]]


class ArxivLookup:
    """`lookup(ids)`: the papers arXiv has for these versionless ids, by id; SourceError when
    arXiv cannot be reached or answers with something that is not a feed."""

    def __init__(self, http: PoliteHttp, api_url: str, gate: Gate | None = None) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.gate = gate
        self.requests = 0

    def __call__(self, arxiv_ids: Sequence[str]) -> dict[str, FetchedPaper]:
        wanted = list(dict.fromkeys(arxiv_ids))
        found: dict[str, FetchedPaper] = {}
        for start in range(0, len(wanted), IDS_PER_REQUEST):
            chunk = wanted[start : start + IDS_PER_REQUEST]
            params: dict[str, str | int] = {
                "id_list": ",".join(chunk),
                "start": 0,
                "max_results": len(chunk),
            }
            url = str(httpx.URL(f"{self.api_url}/api/query", params=params))
            self.requests += 1
            answer = self.http.get(url, SOURCE_LABEL, gate=self.gate)
            parsed = parse_feed(answer.content, f"from {url}", announcements=False)
            asked = set(chunk)
            for paper in parsed.papers:
                if paper.arxiv_id in asked:
                    found[paper.arxiv_id] = paper
        return found


def arxiv_lookup(settings: SourceSettings, *, interactive: bool = False) -> ArxivLookup:
    """The look-up as configured; `interactive` (a web request) retries once and waits at
    most 30 s for arXiv's turn."""
    attempts = (
        min(settings.retries + 1, INTERACTIVE_ATTEMPTS) if interactive else settings.retries + 1
    )
    policy = RetryPolicy(
        attempts=attempts,
        backoff_seconds=settings.backoff_seconds,
        max_retry_after_seconds=settings.max_retry_after_seconds,
    )
    http = PoliteHttp(make_http_client(settings), policy, max_bytes=settings.max_bytes)
    gate = arxiv_gate(
        settings.arxiv_lock_url,
        settings.arxiv_interval_seconds,
        hold_seconds=max(60.0, 3 * settings.timeout_seconds),
        wait_seconds=INTERACTIVE_TURN_WAIT_SECONDS if interactive else 600.0,
    )
    return ArxivLookup(http, settings.arxiv_api_url, gate)
