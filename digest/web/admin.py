"""The operator dashboard at /admin, behind HTTP Basic; absent (404) without a password hash.

Read-only but for POST /admin/release (CSRF-checked), which gives back stale claims.

A login attempt is counted against its client's limit before its password is checked, and
given back only if the password was right, so a burst of any size from one client gets at
most the limit's number of checks; the checks themselves run on a small pool of their own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import time
from datetime import date

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from digest.pipeline.dashboard import build_dashboard
from digest.pipeline.queue import release_stale_claims
from digest.store.types import utcnow
from digest.text import whole_number
from digest.web.admin_password import (
    PASSWORD_CHECKS,
    ChecksBusy,
    PasswordHash,
    parse_password_hash,
)
from digest.web.request_limits import Limit, client_network
from digest.web.security import client_ip
from digest.web.site import Site, form_text

log = logging.getLogger(__name__)

REALM = 'Basic realm="digest admin", charset="UTF-8"'
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
BUCKET = "admin-login"
BUSY_RETRY_SECONDS = 5


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic …` header, or None."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


class AdminPages:
    """GET /admin and POST /admin/release."""

    def __init__(self, site: Site) -> None:
        self.site = site
        admin = site.web.admin
        self.user = admin.user
        line = admin.password_hash
        self.password: PasswordHash | None = parse_password_hash(line) if line else None
        self.limit = Limit(admin.attempts_per_client, admin.attempts_window_seconds)
        # Proof of the credentials last checked right, under a key of this process: the
        # operator's next requests skip scrypt, so a flood of checks never keeps them out.
        self._proof_key = secrets.token_bytes(32)
        self._verified: bytes | None = None

    def routes(self) -> list[Route]:
        return [
            Route("/admin", self.dashboard, methods=["GET"]),
            Route("/admin/release", self.release, methods=["POST"]),
        ]

    def _verify(self, expected: PasswordHash, user: str, password: str) -> bool:
        # Both checks always run, the scrypt work too for a wrong name: neither the answer
        # nor its timing says which one failed.
        user_ok = hmac.compare_digest(user.encode(), self.user.encode())
        password_ok = expected.matches(password)
        return user_ok and password_ok

    def _proof(self, user: str, password: str) -> bytes:
        # A Basic user name never holds ":", so the pair reads one way only.
        return hmac.new(self._proof_key, f"{user}:{password}".encode(), hashlib.sha256).digest()

    def _known(self, user: str, password: str) -> bool:
        verified = self._verified
        return verified is not None and hmac.compare_digest(verified, self._proof(user, password))

    async def _refusal(self, request: Request) -> Response | None:
        """None if the request carries the operator's credentials, else the 404/401/429/503."""
        expected = self.password
        if expected is None:
            raise HTTPException(404)
        limiter = self.site.limits.limiter
        hit = [(BUCKET, client_network(client_ip(request)), self.limit)]
        if limiter.over(hit):
            return self._too_many()
        credentials = basic_credentials(request.headers.get("authorization", ""))
        if credentials is None:
            return self._unauthorized()
        if self._known(*credentials):
            return None
        # Counted before the check, atomically, so concurrent attempts cannot all pass.
        now = time.time()
        if not limiter.allow(hit, now):
            return self._too_many()
        try:
            right = await PASSWORD_CHECKS.run(lambda: self._verify(expected, *credentials))
        except ChecksBusy:
            limiter.refund(hit, now)  # nothing was checked
            log.warning("dashboard login refused: password checks busy")
            return PlainTextResponse(
                "Busy. Try again shortly.\n",
                status_code=503,
                headers={**PRIVATE, "Retry-After": str(BUSY_RETRY_SECONDS)},
            )
        if right:
            limiter.refund(hit, now)  # the limit counts wrong logins
            self._verified = self._proof(*credentials)
            return None
        log.warning("wrong dashboard credentials from %s", client_ip(request))
        return self._unauthorized()

    def _too_many(self) -> Response:
        return PlainTextResponse(
            "Too many attempts. Try again later.\n",
            status_code=429,
            headers={**PRIVATE, "Retry-After": str(self.limit.window_seconds)},
        )

    @staticmethod
    def _unauthorized() -> Response:
        return PlainTextResponse(
            "Authentication required.\n",
            status_code=401,
            headers={**PRIVATE, "WWW-Authenticate": REALM},
        )

    async def dashboard(self, request: Request) -> Response:
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        dashboard = await self.site.in_thread(build_dashboard, self.site.db, utcnow())
        released = request.query_params.get("released", "")
        return self.site.pages.render(
            request,
            "admin.html",
            headers=PRIVATE,
            dashboard=dashboard,
            released=whole_number(released),
            release_action=f"{self.site.root}/admin/release",
        )

    async def release(self, request: Request) -> Response:
        refusal = await self._refusal(request)
        if refusal is not None:
            return refusal
        form = await self.site.checked_form(request)
        edition = _edition(form_text(form, "edition"))
        released = await self.site.in_thread(release_stale_claims, self.site.db, utcnow(), edition)
        log.info("operator released %d stale claims (edition %s)", released.rows, edition)
        return RedirectResponse(
            f"{self.site.root}/admin?released={released.rows}", status_code=303, headers=PRIVATE
        )


def _edition(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400) from None
