"""The public URLs put into emails and pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Protocol
from urllib.parse import quote, urlencode, urlsplit

from digest.tokens import Purpose, make_token, token_signer


class LinkSettings(Protocol):
    """What signing a link needs: the public address and the secret (any settings part)."""

    @property
    def base_url(self) -> str: ...

    @property
    def secret_key(self) -> str: ...


def _url(settings: LinkSettings, path: str, **params: str) -> str:
    query = f"?{urlencode(params)}" if params else ""
    return f"{settings.base_url}{path}{query}"


def confirm_url(
    settings: LinkSettings, subscriber_id: int, email: str, request_id: int | None = None
) -> str:
    """The confirmation link; `request_id` names the subscribe request it answers."""
    token = make_token(
        settings.secret_key, Purpose.CONFIRM, subscriber_id, email, request_id=request_id
    )
    return _url(settings, "/confirm", token=token)


def unsubscribe_url(settings: LinkSettings, subscriber_id: int, email: str) -> str:
    return SubscriberLinks.make(settings, subscriber_id, email).unsubscribe


def preferences_url(settings: LinkSettings, subscriber_id: int, email: str) -> str:
    return SubscriberLinks.make(settings, subscriber_id, email).preferences


@dataclass(frozen=True)
class SubscriberLinks:
    """The signed links of one subscriber's digest, each token made once.

    Every paper's feedback links carry the same short token (it does not name the paper),
    so only the vote and the paper id differ between them.
    """

    unsubscribe_token: str
    unsubscribe: str
    preferences: str
    feedback_prefix: str  # the feedback URL up to the vote: …/rate/<short token>/
    rate_page: str  # /rate?token=…, the text part's one feedback link before it had them all

    @classmethod
    def make(cls, settings: LinkSettings, subscriber_id: int, email: str) -> SubscriberLinks:
        signer = token_signer(settings.secret_key)
        unsubscribe, preferences, feedback = signer.tokens(
            (Purpose.UNSUBSCRIBE, Purpose.PREFERENCES, Purpose.FEEDBACK), subscriber_id, email
        )
        short = signer.short_token(Purpose.FEEDBACK, subscriber_id, email)
        return cls(
            unsubscribe_token=unsubscribe,
            unsubscribe=_url(settings, "/unsubscribe", token=unsubscribe),
            preferences=_url(settings, "/preferences", token=preferences),
            feedback_prefix=f"{settings.base_url}{FEEDBACK_PATH}{short}/",
            rate_page=_url(settings, "/rate", token=feedback),
        )

    def feedback(self, arxiv_id: str, more: bool) -> str:
        """`…/rate/<token>/more/2411.10001`: half the length of the /feedback?token=… form,
        which appears 100 times in a 50-paper digest (that form still works)."""
        return f"{self.feedback_prefix}{'more' if more else 'less'}/{_quoted(arxiv_id)}"

    def rate(self, day: date) -> str:
        """The page of one edition's papers, each with its feedback links (same token)."""
        return f"{self.rate_page}&edition={day.isoformat()}"


# Below /rate, the page of an edition's feedback links: one prefix that crawlers are kept out of.
FEEDBACK_PATH = "/rate/"


@lru_cache(maxsize=8192)
def _quoted(value: str) -> str:
    # Old arXiv ids hold a slash (hep-th/9901001); the route takes the rest of the path.
    return quote(value, safe="/")


def personal_feed_url(settings: LinkSettings, subscriber_id: int, email: str) -> str:
    """The secret address of a subscriber's own Atom feed (their id and an HMAC, no address)."""
    token = make_token(settings.secret_key, Purpose.FEED, subscriber_id, email)
    return _url(settings, "/feed.atom", token=token)


def archive_feed_url(settings: LinkSettings) -> str:
    return _url(settings, "/archive.atom")


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
