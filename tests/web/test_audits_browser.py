"""What Lighthouse's best-practices and SEO audits look at, in Debian's Chromium: no error in
the console (a missing icon is one), the icon loads, and a page may read /robots.txt."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.store.types import utcnow
from digest.tokens import Purpose
from digest.web import create_app
from tests.conftest import free_port, serve_in_thread
from tests.web.support import PaperSpec, add, add_edition, token

PAPERS = [
    PaperSpec("2501.00001", "Sparse Mixtures Route Tokens Faster", upvotes=180, comments=4),
    PaperSpec("2501.00002", "Diffusion Planners for Robot Arms", upvotes=57, stars=1200),
]


@pytest.fixture
def pages(sqlite_db: Database, settings: Settings) -> Iterator[dict[str, str]]:
    """The three pages the issue names, on uvicorn: the landing page, a preferences page and
    an archive day."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app_settings = settings.model_copy(update={"base_url": url})
    now = utcnow()
    day = now.date() - timedelta(days=1)
    add_edition(sqlite_db, day, now - timedelta(days=1), PAPERS)
    row = add(sqlite_db, "reader@example.org", SubscriberState.ACTIVE)
    preferences = token(app_settings, Purpose.PREFERENCES, row)
    with serve_in_thread(create_app(app_settings, sqlite_db, lambda: None), port):
        yield {
            "landing": f"{url}/",
            "preferences": f"{url}/preferences?token={preferences}",
            "archive day": f"{url}/archive/{day.isoformat()}",
        }


@dataclass(frozen=True)
class Visit:
    status: int
    icon: str  # the icon's URL and status, as Chromium fetched it
    failed: list[str]  # URLs answered 400 or more
    console_errors: list[str]


def visit(browser: Browser, url: str) -> Visit:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    with page.expect_response(lambda r: "/favicon." in r.url) as icon:
        answer = page.goto(url)
    page.wait_for_load_state("networkidle")
    context.close()
    assert answer is not None
    return Visit(answer.status, f"{icon.value.url} {icon.value.status}", failed, errors)


def test_no_console_error_and_the_icon_loads(browser: Browser, pages: dict[str, str]) -> None:
    for name, url in pages.items():
        seen = visit(browser, url)
        assert seen.status == 200, name
        origin = urlsplit(url)
        assert seen.icon == f"{origin.scheme}://{origin.netloc}/favicon.svg 200", name
        assert seen.failed == [], name
        assert seen.console_errors == [], name


def test_a_page_can_read_robots_txt_but_not_another_site(
    browser: Browser, pages: dict[str, str]
) -> None:
    """Lighthouse's robots-txt audit fetches it from inside the page, under the page's CSP."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(pages["landing"])
    text = page.evaluate("fetch('/robots.txt').then(r => r.text())")
    assert text.startswith("User-agent: *\n")
    other = f"http://127.0.0.1:{free_port()}/"
    refused = page.evaluate(f"fetch('{other}').then(() => 'fetched', e => e.name)")
    assert refused == "TypeError"
    context.close()
