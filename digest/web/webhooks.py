"""POST /webhooks/bounces: bounce and complaint events pushed by a mail provider."""

from __future__ import annotations

import hmac
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from digest.errors import DigestError
from digest.pipeline.bounces import BadPayload, ReportSettings, record_webhook
from digest.settings import Settings
from digest.store.db import Database
from digest.web.inputs import announces_more_than

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024


class BodyTooLarge(DigestError):
    """A webhook body over MAX_BODY_BYTES."""


async def read_capped(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, or BodyTooLarge as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if announces_more_than(declared, limit):
        raise BodyTooLarge(f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"the body is larger than {limit} bytes")
    return bytes(body)


class BounceWebhook:
    """Bearer-token authenticated intake; answers the counts, never the addresses.

    An event that carries a message id is applied only if the id is one we signed for that
    address, as for a Maildir report; one without relies on the secret alone.
    """

    def __init__(self, secret: str | None, settings: ReportSettings, db: Database) -> None:
        self.secret = secret.encode("utf-8") if secret else None
        self.settings = settings
        self.db = db

    async def receive(self, request: Request) -> Response:
        if self.secret is None:
            return PlainTextResponse("Not Found", status_code=404)
        if not self._authorised(request):
            return JSONResponse(
                {"error": "a valid Authorization: Bearer token is required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            body = await read_capped(request)
        except BodyTooLarge as exc:
            return JSONResponse({"error": str(exc)}, status_code=413)
        try:
            report = await run_in_threadpool(record_webhook, self.db, self.settings, body)
        except BadPayload as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        log.info("bounce webhook: %s", report.summary())
        return JSONResponse(report.counts())

    def _authorised(self, request: Request) -> bool:
        assert self.secret is not None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        given = token.strip().encode("utf-8")
        # Compare even on a wrong scheme so timing says nothing about which part was wrong.
        matches = hmac.compare_digest(given, self.secret)
        return scheme.lower() == "bearer" and matches


def webhook_routes(settings: Settings, db: Database) -> list[Route]:
    """POST /webhooks/bounces; it answers 404 until DIGEST_WEBHOOK_SECRET is set."""
    hook = BounceWebhook(settings.web.webhook_secret, settings.email, db)
    return [Route("/webhooks/bounces", hook.receive, methods=["POST"])]
