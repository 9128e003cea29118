"""The one HTTP client the sources share: timeouts and an honest User-Agent."""

from __future__ import annotations

import httpx

from digest import __version__
from digest.settings import Settings


def user_agent(settings: Settings) -> str:
    """`digest/<version> (+<base_url>; <contact>)`, so API operators know who is calling."""
    details = [f"+{settings.base_url}"]
    if settings.contact:
        details.append(settings.contact)
    return f"digest/{__version__} ({'; '.join(details)})"


def make_http_client(settings: Settings) -> httpx.Client:
    """A client with the configured timeouts; tokens are added per request by each source."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.http_timeout_seconds),
        headers={"User-Agent": user_agent(settings)},
        follow_redirects=True,
    )
