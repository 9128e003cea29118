"""The dashboard in real headless Chromium against uvicorn, at desktop and phone width:
every request stays on the app's origin, charts fit, and the release button works.

Screenshots are kept in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, ViewportSize, expect

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import DeliveryStatus
from digest.web import create_app
from tests.conftest import ARTIFACTS, free_port, serve_in_thread
from tests.screenshots import keep_screenshot
from tests.web.admin_support import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    BOUNCED_ADDRESS,
    FETCH_ERROR,
    delivery_status,
    fill_store,
    with_admin,
)

DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
def live(sqlite_db: Database, settings: Settings) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app_settings = with_admin(settings.model_copy(update={"base_url": url}))
    with serve_in_thread(create_app(app_settings, sqlite_db, lambda: None), port):
        yield url


def origins(requests: list[Request]) -> set[str]:
    return {f"{urlsplit(r.url).scheme}://{urlsplit(r.url).netloc}" for r in requests}


def fits_width(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_dashboard_in_chromium(
    live: str, browser: Browser, sqlite_db: Database, name: str, viewport: ViewportSize
) -> None:
    stale = fill_store(sqlite_db)
    context = browser.new_context(
        viewport=viewport, http_credentials={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    )
    requests: list[Request] = []
    context.on("request", lambda request: requests.append(request))
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)

    response = page.goto(f"{live}/admin")
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", name="Subscribers", exact=True)).to_be_visible()
    expect(page.get_by_text(BOUNCED_ADDRESS).first).to_be_visible()
    expect(page.get_by_text(FETCH_ERROR)).to_be_visible()
    charts = page.locator("svg[role=img]")
    expect(charts).to_have_count(2)
    for i in range(2):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] <= viewport["width"]
        assert box["height"] > 50
    assert fits_width(page)
    keep_screenshot(page, ARTIFACTS / f"admin-{name}.png")

    page.get_by_role("button", name="Release stale claims").click()
    expect(page.get_by_role("status")).to_have_text("Released 1 stale claim.")
    assert delivery_status(sqlite_db, stale) is DeliveryStatus.PENDING
    keep_screenshot(page, ARTIFACTS / f"admin-released-{name}.png")

    assert origins(requests) == {live}
    # The icon too: every failed request, and any CSP refusal, counts.
    assert failed == []
    assert console_errors == []
    context.close()


def test_without_credentials_the_browser_sees_no_address(
    live: str, browser: Browser, sqlite_db: Database
) -> None:
    fill_store(sqlite_db)
    context = browser.new_context(
        viewport=DESKTOP, http_credentials={"username": ADMIN_USER, "password": "wrong"}
    )
    page = context.new_page()
    response = page.goto(f"{live}/admin")
    assert response is not None and response.status == 401
    assert "@" not in page.content()
    assert BOUNCED_ADDRESS not in page.content()
    context.close()
