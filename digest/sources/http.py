"""The one HTTP client the sources share: timeouts, retries with backoff, a size cap, 304s."""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from digest import __version__
from digest.errors import SourceError
from digest.papers import Validator
from digest.settings import SourceSettings
from digest.text import disallowed_in

logger = logging.getLogger("digest.sources.http")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# ASCII digits only: str.isdigit() is also true of "²", which int() and float() refuse.
_DIGITS = re.compile(r"[0-9]{1,30}")
MAX_ETAG, MAX_LAST_MODIFIED = 500, 100  # the http_validators columns


class HttpStatusError(SourceError):
    """The server answered with a status we cannot use (after any retries)."""

    def __init__(self, message: str, status: int, retry_after: float | None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def user_agent(settings: SourceSettings) -> str:
    """`digest/<version> (+<base_url>; <contact>)`, so API operators know who is calling."""
    details = [f"+{settings.user_agent_url}"]
    if settings.user_agent_contact:
        details.append(settings.user_agent_contact)
    return f"digest/{__version__} ({'; '.join(details)})"


def make_http_client(settings: SourceSettings) -> httpx.Client:
    """A client with the configured timeouts; tokens are added per request by each source."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.timeout_seconds),
        headers={"User-Agent": user_agent(settings)},
        follow_redirects=True,
    )


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry connection errors, 429 and 5xx."""

    attempts: int = 4
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    max_retry_after_seconds: float = 300.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter (half fixed, half random); Retry-After is a floor."""
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * 2.0**attempt)
        backoff = ceiling / 2 + random.uniform(0, ceiling / 2)
        return max(backoff, retry_after or 0.0)


@dataclass(frozen=True)
class Answer:
    """A usable answer: its body (at most the cap), headers, and whether it was a 304."""

    url: str
    status: int
    content: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "no content type").split(";")[0].strip()

    def validator(self, items: int) -> Validator | None:
        """What to send next time to ask whether this URL changed, if the server offered any.

        A value too long for its column or holding a control character is not kept (the
        page is then simply read whole next time).
        """
        etag = _header_value(self.headers.get("etag"), MAX_ETAG)
        last_modified = _header_value(self.headers.get("last-modified"), MAX_LAST_MODIFIED)
        if not etag and not last_modified:
            return None
        return Validator(self.url, etag, last_modified, items)


def _header_value(value: str | None, limit: int) -> str | None:
    if not value or len(value) > limit or disallowed_in(value):
        return None
    return value


class PoliteHttp:
    """GETs over one shared client: retried with backoff, capped in size, conditional."""

    def __init__(
        self,
        client: httpx.Client,
        policy: RetryPolicy | None = None,
        max_bytes: int = 20_000_000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.policy = policy or RetryPolicy()
        self.max_bytes = max_bytes
        self.sleep = sleep

    def get(
        self,
        url: str,
        label: str,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        validator: Validator | None = None,
        gate: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> Answer:
        """GET `url`; a 2xx or 304 Answer, else SourceError naming `label` and the URL.

        `gate`, when given, is entered around every attempt (arXiv's one-at-a-time rule).
        """
        request_headers = dict(headers or {})
        if validator is not None:
            if validator.etag:
                request_headers["If-None-Match"] = validator.etag
            if validator.last_modified:
                request_headers["If-Modified-Since"] = validator.last_modified
        full_url = str(httpx.URL(url, params=params)) if params else url
        attempt = 0
        while True:
            try:
                with (gate or nullcontext)():
                    return self._once(full_url, label, request_headers)
            except _Retryable as retry:
                attempt += 1
                too_long = (retry.retry_after or 0) > self.policy.max_retry_after_seconds
                if attempt >= self.policy.attempts or too_long:
                    raise retry.final from None
                pause = self.policy.delay(attempt - 1, retry.retry_after)
                logger.warning(
                    "%s: %s; retrying in %.1f s (%d/%d)",
                    label,
                    retry.final,
                    pause,
                    attempt,
                    self.policy.attempts - 1,
                )
                self.sleep(pause)

    def _once(self, url: str, label: str, headers: dict[str, str]) -> Answer:
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                if response.status_code in RETRY_STATUSES:
                    retry_after = retry_after_seconds(response.headers.get("retry-after"))
                    raise _Retryable(_status_error(label, response, retry_after), retry_after)
                if response.status_code != 304 and not 200 <= response.status_code < 300:
                    raise _status_error(label, response, None)
                content = self._read_capped(response, label)
                return Answer(
                    url=url,
                    status=response.status_code,
                    content=content,
                    headers={k.lower(): v for k, v in response.headers.items()},
                )
        except httpx.TimeoutException:
            raise _Retryable(SourceError(f"{label}: timed out reaching {url}"), None) from None
        except httpx.TransportError as exc:
            error = SourceError(f"{label}: could not reach {url}: {_brief(exc)}")
            raise _Retryable(error, None) from None
        except httpx.RequestError as exc:
            # A body that is not the gzip/deflate/br it claims (DecodingError), a redirect
            # loop: the answer is unusable, and asking again gives the same.
            raise SourceError(f"{label}: unusable answer from {url}: {_brief(exc)}") from None

    def _read_capped(self, response: httpx.Response, label: str) -> bytes:
        too_big = SourceError(
            f"{label}: answer from {response.request.url} is larger than {self.max_bytes} bytes"
        )
        declared = response.headers.get("content-length", "")
        if _DIGITS.fullmatch(declared) and int(declared) > self.max_bytes:
            raise too_big
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)


class _Retryable(Exception):
    """A failed attempt worth repeating; `final` is what to raise when we stop trying."""

    def __init__(self, final: SourceError, retry_after: float | None) -> None:
        super().__init__(str(final))
        self.final = final
        self.retry_after = retry_after


def _status_error(
    label: str, response: httpx.Response, retry_after: float | None
) -> HttpStatusError:
    message = f"{label}: HTTP {response.status_code} from {response.request.url}"
    if retry_after is not None:
        message += f" (retry after {retry_after:g} s)"
    return HttpStatusError(message, response.status_code, retry_after)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    if _DIGITS.fullmatch(text):
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _brief(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def polite_http(settings: SourceSettings, client: httpx.Client | None = None) -> PoliteHttp:
    """A PoliteHttp configured from settings, over `client` or a new client."""
    policy = RetryPolicy(
        attempts=settings.retries + 1,
        backoff_seconds=settings.backoff_seconds,
        max_retry_after_seconds=settings.max_retry_after_seconds,
    )
    return PoliteHttp(client or make_http_client(settings), policy, max_bytes=settings.max_bytes)


_shared: PoliteHttp | None = None
_shared_lock = threading.Lock()


def shared_http(settings: SourceSettings) -> PoliteHttp:
    """The worker process's one PoliteHttp, created on first use and kept (keep-alive)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = polite_http(settings)
        return _shared
