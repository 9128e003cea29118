"""Headers on every response, error pages instead of tracebacks, no tokens or addresses logged."""

from __future__ import annotations

import logging
import re

import pytest
from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.tokens import Purpose
from tests.web.support import subscriber, token


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/healthz"),
        ("GET", "/nowhere"),
        ("GET", "/subscribe"),
        ("GET", "/confirm?token=x"),
        ("POST", "/subscribe"),
    ],
)
def test_security_headers_on_every_response(
    sqlite_client: TestClient, method: str, path: str
) -> None:
    response = sqlite_client.request(method, path)

    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp


def test_page_csp_nonce_matches_inline_style_and_script(sqlite_client: TestClient) -> None:
    response = sqlite_client.get("/")

    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"])
    assert nonce is not None
    assert f'<style nonce="{nonce.group(1)}">' in response.text
    assert f'<script nonce="{nonce.group(1)}">' in response.text
    assert (
        sqlite_client.get("/").headers["content-security-policy"]
        != response.headers["content-security-policy"]
    )


def test_unknown_page_and_wrong_method_are_pages(sqlite_client: TestClient) -> None:
    missing = sqlite_client.get("/nowhere")
    assert missing.status_code == 404
    assert "There is no page at this address." in missing.text

    wrong = sqlite_client.get("/subscribe")
    assert wrong.status_code == 405
    assert "POST" in wrong.headers["allow"]


def test_token_pages_are_not_cached(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings
) -> None:
    sqlite_client.post("/subscribe", data={"email": "cache@example.com"})
    row = subscriber(sqlite_db, "cache@example.com")

    response = sqlite_client.get(
        "/unsubscribe", params={"token": token(settings, Purpose.UNSUBSCRIBE, row)}
    )

    assert response.headers["cache-control"] == "no-store"


def test_no_token_or_address_in_logs(
    sqlite_db: Database,
    sqlite_client: TestClient,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    email = "private.person@example.com"
    sqlite_client.post("/subscribe", data={"email": email})
    sqlite_client.post("/subscribe", data={"email": "broken@@example.com"})
    row = subscriber(sqlite_db, email)
    confirm = token(settings, Purpose.CONFIRM, row)
    leave = token(settings, Purpose.UNSUBSCRIBE, row)
    sqlite_client.get("/confirm", params={"token": confirm})
    sqlite_client.get("/unsubscribe", params={"token": leave})
    sqlite_client.post("/unsubscribe", params={"token": leave})

    # Only our own loggers: the test client (httpx) logs every URL it requests.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("digest"))
    assert "unsubscribed" in ours, "the flow should log what it does"
    for secret in (email, "private.person", "broken@@example.com", confirm, leave):
        assert secret not in ours
