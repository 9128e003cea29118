"""The digest as a browser engine draws it: phone and desktop widths, light and dark."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import Browser, Page

from digest.render import DigestRenderer, render_archive_html
from digest.settings import Settings
from tests.conftest import ARTIFACTS
from tests.render.factories import make_entry, parse, part_text, render_confirmation
from tests.screenshots import keep_screenshot

WIDTHS = (640, 375)
SCHEMES = ("light", "dark")


def _digest_html(settings: Settings) -> str:
    postal = settings.model_copy(update={"postal_address": "Example Labs, 1 Long Street, Paris"})
    entries = [
        make_entry(1, title="Scaling sparse attention to a million tokens", why="You follow cs.LG"),
        make_entry(2, title="W" * 400, authors=["A" * 300], why="x" * 500),  # unbreakable text
        make_entry(3, title="Über Ünïcödé 注意力: naïve attention <script>alert(1)</script>"),
        make_entry(4, code_url=None, project_url=None, stars=None, categories=["cs.CL", "cs.AI"]),
    ]
    message = DigestRenderer(postal.email, date(2026, 11, 25)).render(
        subscriber_id=42,
        email="a.very.long.address.for.wrapping@example-university.edu",
        entries=entries,
    )
    return part_text(parse(message), "html")


def _open(browser: Browser, html: str, width: int, scheme: str) -> tuple[Page, list[str]]:
    page = browser.new_page(
        viewport={"width": width, "height": 900},
        color_scheme=scheme,  # type: ignore[arg-type]
    )
    requests: list[str] = []

    def refuse(route: object) -> None:
        requests.append(route.request.url)  # type: ignore[attr-defined]
        route.abort()  # type: ignore[attr-defined]

    page.route("**/*", refuse)
    page.set_content(html, wait_until="load")
    return page, requests


def _overflow(page: Page) -> int:
    result: int = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    return result


def _luminance(page: Page, selector: str, prop: str) -> float:
    """Relative brightness (0 black .. 1 white) of a computed colour."""
    colour: str = page.eval_on_selector(selector, f"el => getComputedStyle(el).{prop}")
    red, green, blue = (int(part) for part in colour[colour.index("(") + 1 : -1].split(",")[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_digest_fits_and_reads_in_both_schemes(
    browser: Browser, settings: Settings, width: int, scheme: str
) -> None:
    page, requests = _open(browser, _digest_html(settings), width, scheme)
    ARTIFACTS.mkdir(exist_ok=True)
    keep_screenshot(page, ARTIFACTS / f"digest-{width}-{scheme}.png")
    assert _overflow(page) <= 0, "the digest scrolls sideways"
    assert requests == []  # nothing fetched: no images, fonts, stylesheets or pixels
    assert page.locator("script").count() == 0
    card = _luminance(page, ".container", "backgroundColor")
    text = _luminance(page, ".abstract", "color")
    if scheme == "dark":
        assert card < 0.25 and text > 0.75
    else:
        assert card > 0.9 and text < 0.3
    container = page.eval_on_selector(".container", "el => el.getBoundingClientRect().width")
    assert container <= 640
    assert page.get_by_text("More like this").count() == 4
    page.close()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_confirmation_and_archive_fit_a_phone(
    browser: Browser, settings: Settings, scheme: str
) -> None:
    confirmation = part_text(
        parse(render_confirmation(settings.email, subscriber_id=7, email="reader@example.com")),
        "html",
    )
    archive = render_archive_html(
        settings.email, date(2026, 11, 25), [make_entry(1, title="T" * 300)]
    )
    for name, html in (("confirm", confirmation), ("archive", archive)):
        page, requests = _open(browser, html, 375, scheme)
        keep_screenshot(page, ARTIFACTS / f"{name}-375-{scheme}.png")
        assert _overflow(page) <= 0, name
        assert requests == []
        page.close()
