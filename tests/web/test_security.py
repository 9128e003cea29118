"""Headers on every response, error pages instead of tracebacks, no tokens or addresses logged."""

from __future__ import annotations

import logging
import re

import pytest
from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.tokens import Purpose
from tests.web.support import BROWSER, add, browser_post, subscriber, token


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


POST_ROUTES = [
    "/subscribe",
    "/confirm/resend",
    "/unsubscribe",
    "/resubscribe",
    "/preferences",
    "/preferences/delete",
    "/feedback",
]


@pytest.mark.parametrize("path", POST_ROUTES)
def test_every_form_route_refuses_oversized_bodies(sqlite_client: TestClient, path: str) -> None:
    response = sqlite_client.post(path, data={"email": "x@example.com", "topics": "x" * 20_000})

    assert response.status_code == 413
    assert "too large" in response.text


@pytest.mark.parametrize("path", POST_ROUTES)
def test_every_form_route_refuses_too_many_fields(sqlite_client: TestClient, path: str) -> None:
    response = sqlite_client.post(path, data={f"f{i}": "1" for i in range(50)})

    assert response.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/archive/",
        "//evil.example/",
        "/?next=https://evil.example/",
        "/confirm?token=x&next=//evil.example",
        "/unsubscribe?token=x&redirect=https://evil.example",
    ],
)
def test_no_redirect_anywhere(sqlite_client: TestClient, path: str) -> None:
    response = sqlite_client.get(path, follow_redirects=False)

    assert "location" not in response.headers
    assert response.status_code in (200, 400, 404)


def test_hsts_when_served_over_https(sqlite_client: TestClient) -> None:
    assert sqlite_client.get("/").headers["strict-transport-security"].startswith("max-age=")


def test_header_injection_through_query_or_form_goes_nowhere(
    sqlite_db: Database, sqlite_client: TestClient
) -> None:
    link = sqlite_client.get("/confirm?token=%0d%0aSet-Cookie:%20pwned=1")
    form = sqlite_client.post(
        "/subscribe", data={"email": "a@example.com\r\nBcc: victim@example.com"}
    )
    zone = sqlite_client.post(
        "/subscribe", data={"email": "b@example.com", "timezone": "UTC\r\nX-Injected: 1"}
    )

    assert link.status_code == 400
    assert "pwned" not in link.headers.get("set-cookie", "")
    assert form.status_code == 422 and "line breaks" in form.text
    assert zone.status_code == 422
    assert not any("injected" in name.lower() for name in zone.headers)


def test_no_address_or_token_in_logs_on_any_page(
    sqlite_db: Database,
    sqlite_client: TestClient,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    email = "private.person@example.com"
    row = add(sqlite_db, email, SubscriberState.ACTIVE)
    prefs = token(settings, Purpose.PREFERENCES, row)
    page = f"/preferences?token={prefs}"
    sqlite_client.post("/subscribe", data={"email": email})
    sqlite_client.post(
        "/subscribe", data={"email": "x@y.z", "csrf_token": "forged"}, headers=BROWSER
    )
    browser_post(sqlite_client, page, page, {"topics": "nlp", "action": "save"})
    sqlite_client.get(f"/preferences/export?token={prefs}")
    browser_post(
        sqlite_client, page, f"/preferences/delete?token={prefs}", {"confirm_delete": "yes"}
    )

    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("digest"))
    assert "deleted at their request" in ours and "form refused" in ours
    for secret in (email, "private.person", prefs, "forged", settings.secret_key):
        assert secret not in ours
