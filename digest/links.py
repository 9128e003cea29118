"""The public URLs put into emails and pages."""

from __future__ import annotations

from datetime import date
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from digest.tokens import Purpose, make_token


class LinkSettings(Protocol):
    """What signing a link needs: the public address and the secret (any settings part)."""

    @property
    def base_url(self) -> str: ...

    @property
    def secret_key(self) -> str: ...


def _url(settings: LinkSettings, path: str, **params: str) -> str:
    query = f"?{urlencode(params)}" if params else ""
    return f"{settings.base_url}{path}{query}"


def confirm_url(settings: LinkSettings, subscriber_id: int, email: str) -> str:
    token = make_token(settings.secret_key, Purpose.CONFIRM, subscriber_id, email)
    return _url(settings, "/confirm", token=token)


def unsubscribe_url(settings: LinkSettings, subscriber_id: int, email: str) -> str:
    token = make_token(settings.secret_key, Purpose.UNSUBSCRIBE, subscriber_id, email)
    return _url(settings, "/unsubscribe", token=token)


def preferences_url(settings: LinkSettings, subscriber_id: int, email: str) -> str:
    token = make_token(settings.secret_key, Purpose.PREFERENCES, subscriber_id, email)
    return _url(settings, "/preferences", token=token)


def feedback_url(
    settings: LinkSettings, subscriber_id: int, email: str, arxiv_id: str, more: bool
) -> str:
    """The "more/less like this" link of one paper; the page it opens asks to confirm."""
    token = make_token(settings.secret_key, Purpose.FEEDBACK, subscriber_id, email)
    return _url(settings, "/feedback", token=token, paper=arxiv_id, vote="more" if more else "less")


def archive_url(settings: LinkSettings, day: date | None = None) -> str:
    return _url(settings, f"/archive/{day.isoformat()}" if day else "/archive")


def home_url(settings: LinkSettings) -> str:
    return _url(settings, "/")


def http_url(value: str | None) -> str | None:
    """The URL if it is a plain absolute http(s) address, else None.

    Every link built from a source's data passes through here, so `javascript:`, `data:`
    and relative or malformed addresses never become an href.
    """
    if not value:
        return None
    url = value.strip()
    # urlsplit silently drops tabs and newlines, so reject whitespace and controls up front.
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url
