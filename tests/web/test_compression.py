"""gzip on the pages, and what keeps it from leaking a secret by length (BREACH): a CSRF field
masked afresh on every page, and no compression of answers to requests with credentials."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import timedelta

import httpx
from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.store.types import utcnow
from digest.tokens import Purpose
from digest.web import create_app
from tests.web.admin_support import OPERATOR, fill_store, with_admin
from tests.web.support import BROWSER, PaperSpec, add, add_edition, csrf_from, token

GZIP = {"Accept-Encoding": "gzip"}


@dataclass(frozen=True)
class Raw:
    status_code: int
    headers: httpx.Headers
    body: bytes  # as sent: still encoded


def raw_get(client: TestClient, path: str, headers: dict[str, str]) -> Raw:
    with client.stream("GET", path, headers=headers) as answer:
        return Raw(answer.status_code, answer.headers, b"".join(answer.iter_raw()))


def test_pages_are_gzipped_for_clients_that_accept_it(
    sqlite_client: TestClient, sqlite_db: Database, settings: Settings
) -> None:
    now = utcnow()
    day = now.date() - timedelta(days=1)
    add_edition(sqlite_db, day, now, [PaperSpec("2501.00001", "A Paper", upvotes=5)])
    row = add(sqlite_db, "reader@example.org", SubscriberState.ACTIVE)
    preferences = f"/preferences?token={token(settings, Purpose.PREFERENCES, row)}"
    for path in ("/", "/archive", f"/archive/{day.isoformat()}", preferences, "/archive.atom"):
        plain = sqlite_client.get(path, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers, path
        packed = raw_get(sqlite_client, path, GZIP)
        assert packed.headers["content-encoding"] == "gzip", path
        assert "Accept-Encoding" in packed.headers["vary"], path
        assert len(packed.body) < len(plain.content) / 2, path
        # The same page but for its per-response nonce and CSRF field.
        text = gzip.decompress(packed.body).decode()
        assert len(text) == len(plain.text), path


def test_the_csrf_field_differs_on_every_page_and_each_is_accepted(
    sqlite_client: TestClient,
) -> None:
    first = sqlite_client.get("/")
    second = sqlite_client.get("/")
    cookie = sqlite_client.cookies["digest_csrf"]
    assert second.cookies.get("digest_csrf") is None  # one cookie; the field changes
    one, two = csrf_from(first.text), csrf_from(second.text)
    assert one != two
    assert not set(re.findall(r".{8}", one)) & set(re.findall(r".{8}", two))
    assert cookie not in first.text
    for field in (one, two, one):
        answer = sqlite_client.post(
            "/subscribe", data={"email": "a@example.org", "csrf_token": field}, headers=BROWSER
        )
        assert answer.status_code == 200, answer.text


def test_a_field_from_a_page_served_before_masking_still_works(
    sqlite_client: TestClient, settings: Settings
) -> None:
    """A form left open in a tab across the upgrade: its field is the bare HMAC."""
    sqlite_client.get("/")
    cookie = sqlite_client.cookies["digest_csrf"]
    key = hashlib.sha256(f"digest.csrf:{settings.secret_key}".encode()).digest()
    signature = hmac.new(key, cookie.encode(), hashlib.sha256).digest()
    bare = base64.urlsafe_b64encode(signature).decode().rstrip("=")
    answer = sqlite_client.post(
        "/subscribe", data={"email": "a@example.org", "csrf_token": bare}, headers=BROWSER
    )
    assert answer.status_code == 200
    wrong = bare[:-2] + ("AA" if not bare.endswith("AA") else "BB")
    refused = sqlite_client.post(
        "/subscribe", data={"email": "a@example.org", "csrf_token": wrong}, headers=BROWSER
    )
    assert refused.status_code == 403


def test_malformed_fields_are_refused_not_crashed_on(sqlite_client: TestClient) -> None:
    sqlite_client.get("/")
    for field in ("", "é" * 86, "=" * 86, "A" * 85, "A" * 87, "*" * 43, "A" * 200):
        answer = sqlite_client.post(
            "/subscribe", data={"email": "a@example.org", "csrf_token": field}, headers=BROWSER
        )
        assert answer.status_code == 403, field


def test_answers_to_requests_with_credentials_are_never_compressed(
    sqlite_db: Database, settings: Settings
) -> None:
    fill_store(sqlite_db)
    with TestClient(create_app(with_admin(settings), sqlite_db, lambda: None)) as client:
        dashboard = raw_get(client, "/admin", {**GZIP, **OPERATOR})
        assert dashboard.status_code == 200
        assert len(dashboard.body) > 2000  # big enough that gzip would have applied
        assert "content-encoding" not in dashboard.headers
        landing = raw_get(client, "/", {**GZIP, **OPERATOR})
        assert "content-encoding" not in landing.headers


def test_small_answers_stay_as_they_are(sqlite_client: TestClient) -> None:
    health = raw_get(sqlite_client, "/healthz", GZIP)
    assert health.status_code == 200
    assert "content-encoding" not in health.headers
