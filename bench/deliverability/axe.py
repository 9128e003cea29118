"""axe-core (npm) in Debian's Chromium through Playwright, on pages and on emails."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import Browser, sync_playwright

from bench.deliverability.tools import CHROMIUM, node_module
from tests.deliverability.pages import ADMIN_PASSWORD, ADMIN_USER

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
RUN = "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _violations(found: Any) -> list[str]:
    return sorted(f"{v['id']} ({len(v['nodes'])})" for v in found)


def check_url(browser: Browser, url: str) -> list[str]:
    """Violations on a served page (the page's CSP is bypassed to inject axe only; the
    operator's credentials open the dashboard)."""
    context = browser.new_context(
        bypass_csp=True, http_credentials={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    )
    try:
        page = context.new_page()
        page.goto(url)
        page.add_script_tag(path=str(node_module("axe-core", "axe.min.js")))
        return _violations(page.evaluate(RUN))
    finally:
        context.close()


def check_html(browser: Browser, html: str, width: int = 600) -> list[str]:
    """Violations in an email's HTML, shown as a client would at `width` px."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.set_content(html)
        page.add_script_tag(path=str(node_module("axe-core", "axe.min.js")))
        return _violations(page.evaluate(RUN))
    finally:
        context.close()


def check_captured(browser: Browser, origin: str, html: str) -> list[str]:
    """Violations on a page captured earlier (the answer to a form), shown at its origin so
    that its stylesheet and links resolve as they did."""
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        address = f"{origin}/__captured_page"
        page.route(address, lambda route: route.fulfill(body=html, content_type="text/html"))
        page.goto(address)
        page.add_script_tag(path=str(node_module("axe-core", "axe.min.js")))
        return _violations(page.evaluate(RUN))
    finally:
        context.close()
