"""Security headers, CSP nonces, CSRF (signed double-submit cookie) and the client address."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.web.crawlers import NOINDEX, indexable, route_path
from digest.web.inputs import query_has_token

# Responses that render no page (JSON, plain text) get the strictest policy; pages get a
# per-response nonce for their one inline <style> and <script> (see Pages.render), their
# icon, and may fetch from this site (what audits such as Lighthouse do for robots.txt).
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS = {
    "Content-Security-Policy": DEFAULT_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
HSTS = "max-age=31536000; includeSubDomains"
CSRF_COOKIE = "digest_csrf"
CSRF_FIELD = "csrf_token"
CSRF_COOKIE_MAX_AGE = 7 * 24 * 3600
BROWSER_SAFE_SITES = ("same-origin", "none")
SIGNATURE_BYTES = hashlib.sha256().digest_size


def page_csp(nonce: str) -> str:
    """The Content-Security-Policy of an HTML page whose inline style and script carry `nonce`."""
    return (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    """Add the security headers to every response; forbid caching of pages reached by token,
    and indexing of everything but the public pages."""

    def __init__(self, app: ASGIApp, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Decided on the query as the handlers read it: `?%74oken=` is a token too.
        carries_token = query_has_token(scope.get("query_string", b""))
        path = route_path(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if self.https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if carries_token:
                    headers["Cache-Control"] = "no-store"
                if not indexable(path, message["status"], carries_token):
                    headers.setdefault("X-Robots-Tag", NOINDEX)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CsrfRefused(Exception):
    """A state-changing form arrived from another site or without its CSRF token."""


@dataclass(frozen=True)
class CsrfToken:
    """The hidden-field value for a page, and the cookie to set if the browser had none."""

    field: str
    new_cookie: str | None


class Csrf:
    """Signed double-submit: a random cookie, and a form field that is its HMAC under our key.

    A cross-site page can make a browser send our cookie but cannot read it, so it cannot
    produce the matching field. Each page masks the field with a fresh one-time pad (pad,
    then HMAC XOR pad), so no two compressed responses carry the same secret bytes for a
    length side channel (BREACH) to guess at.
    """

    def __init__(self, secret_key: str, cookie_path: str = "/") -> None:
        self.key = hashlib.sha256(f"digest.csrf:{secret_key}".encode()).digest()
        self.cookie_path = cookie_path or "/"

    def token_for(self, request: Request) -> CsrfToken:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if self._well_formed(cookie):
            return CsrfToken(self._masked(cookie), None)
        fresh = secrets.token_urlsafe(32)
        return CsrfToken(self._masked(fresh), fresh)

    def set_cookie(self, request: Request, response: Response, value: str) -> None:
        response.set_cookie(
            CSRF_COOKIE,
            value,
            max_age=CSRF_COOKIE_MAX_AGE,
            path=self.cookie_path,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )

    def check(self, request: Request, field: str) -> None:
        """Raise CsrfRefused unless this form post is same-origin with a matching token.

        A request with neither Origin nor Sec-Fetch-Site does not come from a browser (every
        current browser sends one on a form POST), so no victim's cookies ride on it; such
        clients (scripts, mail clients) still pass the origin rules and need no token.
        """
        site = request.headers.get("sec-fetch-site")
        origin = request.headers.get("origin")
        # Sec-Fetch-Site decides when present: our no-referrer policy makes Chromium send
        # `Origin: null` even on our own forms. Older browsers send only Origin.
        if site is not None:
            if site not in BROWSER_SAFE_SITES:
                # Named only when it is a value browsers send: the header is the client's.
                named = site if site in ("cross-site", "same-site") else "unknown value"
                raise CsrfRefused(f"cross-site form post ({named})")
        elif origin is not None and not same_origin(request, origin):
            raise CsrfRefused("form posted from another origin")
        if site is None and origin is None:
            return
        cookie = request.cookies.get(CSRF_COOKIE, "")
        signature = _unmasked(field)
        if (
            not self._well_formed(cookie)
            or signature is None
            or not hmac.compare_digest(signature, self._sign(cookie))
        ):
            raise CsrfRefused("missing or wrong CSRF token")

    def _sign(self, cookie: str) -> bytes:
        return hmac.new(self.key, cookie.encode(), hashlib.sha256).digest()

    def _masked(self, cookie: str) -> str:
        signature = self._sign(cookie)
        pad = secrets.token_bytes(len(signature))
        return _b64(pad + bytes(a ^ b for a, b in zip(pad, signature, strict=True)))

    @staticmethod
    def _well_formed(cookie: str) -> bool:
        return 20 <= len(cookie) <= 100 and cookie.isascii()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unmasked(field: str) -> bytes | None:
    """The HMAC a form field carries, or None if it is not one of ours."""
    try:
        raw = base64.b64decode(field.encode() + b"=" * (-len(field) % 4), b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) == 2 * SIGNATURE_BYTES:
        pad, masked = raw[:SIGNATURE_BYTES], raw[SIGNATURE_BYTES:]
        return bytes(a ^ b for a, b in zip(pad, masked, strict=True))
    # Unmasked: a form on a page served before fields were masked, still open in a tab.
    return raw if len(raw) == SIGNATURE_BYTES else None


def same_origin(request: Request, origin: str) -> bool:
    """True if the Origin header names this server as the browser reached it."""
    try:
        parts = urlsplit(origin)
    except ValueError:  # `http://[`: the header is the client's, and not ours if unreadable
        return False
    host = request.headers.get("host", "")
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc == host


def client_ip(request: Request) -> str:
    """The peer address (uvicorn has already applied X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else "unknown"
