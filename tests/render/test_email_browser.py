"""Every subscriber email as Chromium draws it at 640 and 375 px, light and dark.

Screenshots of each go to test-artifacts/email-<kind>-<width>-<scheme>.png.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from playwright.sync_api import Browser, Page, Route

from digest.pipeline.emails import ALREADY_SUBSCRIBED_EMAIL, CONFIRMATION_EMAIL
from digest.pipeline.notices import render_subscriber_email
from digest.render import DigestRenderer
from digest.settings import EmailSettings, Settings
from tests.conftest import ARTIFACTS
from tests.render.factories import make_entry, parse, part_text
from tests.screenshots import keep_screenshot

WIDTHS = (640, 375)
SCHEMES = ("light", "dark")
EDITION = date(2026, 11, 25)
# An address that fits a phone's line but has hyphens a browser may break at.
READER = "jean-luc.picard-smith@starfleet-academy.org"
THUMBNAIL = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2411.10001.png"
# A 1200x630 stand-in for the source's thumbnail, served by the test, not fetched.
THUMBNAIL_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630">'
    '<rect width="1200" height="630" fill="#888"/></svg>'
)
MIN_TAP = 44


def hf_entries() -> list:  # type: ignore[type-arg]
    return [
        make_entry(
            1,
            source="hf",
            summary="Easy tokens skip layers, saving a third of the compute.",
            keywords=["token routing", "efficiency", "Token Routing", "mixture of depths"],
            thumbnail_url=THUMBNAIL,
            organisation="Example Lab",
            why="You follow efficiency",
        ),
        make_entry(2, source="hf", summary="A one-line summary " * 30, keywords=["x" * 120]),
        make_entry(3, source="arxiv", categories=["cs.CL", "cs.AI"], code_url=None, stars=None),
    ]


def digest_html(settings: EmailSettings, entries: list) -> str:  # type: ignore[type-arg]
    message = DigestRenderer(settings, EDITION).render(
        subscriber_id=42, email=READER, entries=entries
    )
    return part_text(parse(message), "html")


def notice_html(settings: EmailSettings, kind: str) -> str:
    message = render_subscriber_email(settings, kind, subscriber_id=7, email=READER)
    return part_text(parse(message), "html")


def email_settings(settings: Settings, **overrides: object) -> EmailSettings:
    postal = settings.model_copy(update={"postal_address": "Example Labs, 1 Long Street, Paris"})
    return replace(postal.email, **overrides)  # type: ignore[arg-type]


def open_email(browser: Browser, html: str, width: int, scheme: str) -> tuple[Page, list[str]]:
    """The email in a page that fetches nothing (a thumbnail is served by the test)."""
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)  # type: ignore[arg-type]
    requests: list[str] = []

    def answer(route: Route) -> None:
        requests.append(route.request.url)
        if route.request.url == THUMBNAIL:
            route.fulfill(status=200, content_type="image/svg+xml", body=THUMBNAIL_SVG)
        else:
            route.abort()

    page.route("**/*", answer)
    page.set_content(html, wait_until="load")
    return page, requests


def overflow(page: Page) -> int:
    result: int = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    return result


def tap_heights(page: Page, selector: str) -> list[float]:
    heights: list[float] = page.eval_on_selector_all(
        selector, "els => els.map(el => el.getBoundingClientRect().height)"
    )
    return heights


def lines_of(page: Page, selector: str) -> list[int]:
    """How many line boxes each match is drawn on (1: it was not broken)."""
    counts: list[int] = page.eval_on_selector_all(
        selector,
        "els => els.map(el => new Set([...el.getClientRects()].map(r => Math.round(r.top))).size)",
    )
    return counts


def shot(page: Page, kind: str, width: int, scheme: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    keep_screenshot(page, ARTIFACTS / f"email-{kind}-{width}-{scheme}.png")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_digest_shows_what_the_source_gave_within_the_screen(
    browser: Browser, settings: Settings, width: int, scheme: str
) -> None:
    page, requests = open_email(
        browser, digest_html(email_settings(settings), hf_entries()), width, scheme
    )
    shot(page, "digest", width, scheme)
    assert overflow(page) <= 0, "the digest scrolls sideways"
    assert requests == [] and page.locator("img").count() == 0  # thumbnails are off by default

    first = page.locator(".paper").nth(0)
    assert first.locator(".authors").inner_text() == (
        "Ada Lovelace, Alan Turing, Grace Hopper et al.; Example Lab"
    )
    tldr = first.locator(".tldr")
    assert "TL;DR" in tldr.inner_text() and "machine-written" in tldr.inner_text()
    assert "Easy tokens skip layers" in tldr.inner_text()
    # Above the abstract excerpt.
    assert tldr.bounding_box()["y"] < first.locator(".abstract").bounding_box()["y"]  # type: ignore[index]
    assert first.locator(".keywords").inner_text() == (
        "Keywords: token routing, efficiency, mixture of depths"
    )
    hf = first.get_by_role("link", name="Hugging Face", exact=True)
    assert hf.get_attribute("href") == "https://huggingface.co/papers/2411.10001"
    # An arXiv paper has no Hugging Face page, TL;DR or keywords, but shows its categories.
    third = page.locator(".paper").nth(2)
    assert third.get_by_role("link", name="Hugging Face").count() == 0
    assert third.locator(".tldr, .keywords").count() == 0
    assert third.locator(".topics").inner_text() == "cs.CL, cs.AI"

    heights = tap_heights(page, ".paper .links a, .paper .feedback a")
    assert len(heights) == 3 * 2 + 4 + 3 + 3  # More/Less on each, and every paper's links
    assert min(heights) >= MIN_TAP, heights
    assert min(tap_heights(page, ".footer-links a")) >= MIN_TAP
    # Each link fills its table cell: the whole 44 px is the tap target.
    cells = page.eval_on_selector_all(
        ".paper .links td, .footer-links td",
        "tds => tds.map(td => td.getBoundingClientRect().height"
        " - td.querySelector('a').getBoundingClientRect().height)",
    )
    assert max(cells) < 1, cells

    assert lines_of(page, ".footer .address") == [1], "the address broke at a hyphen"
    footer = page.locator(".footer").inner_text()
    assert f"because {READER} is subscribed to Trending Papers" in " ".join(footer.split())
    assert "confirmed" not in footer
    page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_thumbnails_when_asked_keep_their_space_and_say_what_they_are(
    browser: Browser, settings: Settings, width: int
) -> None:
    html = digest_html(email_settings(settings, show_thumbnails=True), hf_entries())
    page, requests = open_email(browser, html, width, "light")
    shot(page, "digest-thumbnails", width, "light")
    assert requests == [THUMBNAIL]  # the one image the operator chose to show, nothing else
    image = page.locator("img.thumbnail")
    assert image.count() == 1
    assert image.get_attribute("alt", timeout=1000) == (
        "Thumbnail of Paper ranked 1: sparse attention at scale"
    )
    # The size is declared, so the text does not move when the image arrives.
    assert (image.get_attribute("width"), image.get_attribute("height")) == ("160", "84")
    box = image.bounding_box()
    # 160 x 84 within its 1 px border.
    assert box is not None and box["width"] == 162 and box["height"] == 86
    assert overflow(page) <= 0
    page.close()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_the_sample_notice_does_not_blame_the_source(
    browser: Browser, settings: Settings, width: int, scheme: str
) -> None:
    message = DigestRenderer(email_settings(settings), EDITION, sample=True).render(
        subscriber_id=42, email=READER, entries=[make_entry(1, source="sample")]
    )
    page, _ = open_email(browser, part_text(parse(message), "html"), width, scheme)
    shot(page, "digest-sample", width, scheme)
    notice = page.locator(".notice").inner_text()
    assert "built-in sample" in notice and "could not be reached" not in notice
    assert "could not be reached" not in part_text(parse(message), "plain")
    assert page.get_by_role("link", name="Hugging Face").count() == 0
    assert overflow(page) <= 0
    page.close()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    ("kind", "button"),
    [
        (CONFIRMATION_EMAIL, "Confirm my subscription"),
        (ALREADY_SUBSCRIBED_EMAIL, "Change my preferences"),
    ],
)
def test_notices_fit_and_their_button_is_the_one_link(
    browser: Browser, settings: Settings, kind: str, button: str, width: int, scheme: str
) -> None:
    page, requests = open_email(browser, notice_html(email_settings(settings), kind), width, scheme)
    shot(page, kind, width, scheme)
    assert overflow(page) <= 0
    assert requests == []
    target = page.get_by_role("link", name=button).get_attribute("href")
    assert target and target.startswith("https://digest.example.org/")
    assert page.locator(f'a[href="{target}"]').count() == 1
    # A table cell with its own background: what Outlook draws as a button, and a link
    # spanning the whole cell elsewhere.
    cell = page.locator("td.button")
    assert cell.get_attribute("bgcolor") == "#1d4ed8"
    assert min(tap_heights(page, "td.button a")) >= MIN_TAP
    link = page.locator("td.button a").bounding_box()
    box = cell.bounding_box()
    assert box is not None and link is not None
    assert box["height"] - link["height"] <= 4  # all but the cell's 2 px border is the link
    word_break: str = page.eval_on_selector(".fine", "el => getComputedStyle(el).wordBreak")
    assert word_break != "break-all"
    assert lines_of(page, ".footer .address") == [1], "the address broke at a hyphen"
    page.close()
