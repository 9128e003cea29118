"""POST /webhooks/bounces: bounce and complaint events pushed by a mail provider."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from digest.errors import DigestError
from digest.mail.bounces import EventKind, MailEvent, record_events
from digest.settings import Settings
from digest.store.db import Database

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
EXPECTED_SHAPE = '{"events": [{"type": "bounce" or "complaint", "email": "..."}]}'


class BadPayload(DigestError):
    """A webhook body that is not JSON of the expected shape."""


class BodyTooLarge(DigestError):
    """A webhook body over MAX_BODY_BYTES."""


def parse_events(body: bytes) -> tuple[list[MailEvent], int]:
    """The events of a webhook body, and how many entries were not valid events."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadPayload(f"the body is not valid JSON; expected {EXPECTED_SHAPE}") from None
    if isinstance(data, dict) and "events" in data:
        items = data["events"]
    elif isinstance(data, dict) and ("type" in data or "email" in data):
        items = [data]
    elif isinstance(data, list):
        items = data
    else:
        raise BadPayload(f"expected {EXPECTED_SHAPE}")
    if not isinstance(items, list):
        raise BadPayload(f'"events" must be a list; expected {EXPECTED_SHAPE}')
    events = [event for item in items if (event := _event(item)) is not None]
    return events, len(items) - len(events)


def _event(item: Any) -> MailEvent | None:
    if not isinstance(item, dict):
        return None
    kind, email = item.get("type"), item.get("email")
    if not isinstance(kind, str) or not isinstance(email, str):
        return None
    try:
        return MailEvent(EventKind(kind.strip().lower()), email, detail="webhook")
    except ValueError:
        return None


async def read_capped(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, or BodyTooLarge as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"the body is larger than {limit} bytes")
    return bytes(body)


class BounceWebhook:
    """Bearer-token authenticated intake; answers the counts, never the addresses."""

    def __init__(self, secret: str | None, db: Database) -> None:
        self.secret = secret.encode("utf-8") if secret else None
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
            events, invalid = parse_events(await read_capped(request))
        except BodyTooLarge as exc:
            return JSONResponse({"error": str(exc)}, status_code=413)
        except BadPayload as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        report = await run_in_threadpool(record_events, self.db, events)
        report.invalid += invalid
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
    hook = BounceWebhook(settings.webhook_secret, db)
    return [Route("/webhooks/bounces", hook.receive, methods=["POST"])]
