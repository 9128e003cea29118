"""The public archive in real headless Chromium against uvicorn: the day's page reads like
the email (the same paper partial), fits 1280 and 390 px in light and dark, and the index
and a missing day speak the site's voice. Screenshots go to test-artifacts/ (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from digest import links
from digest.pipeline.pool import build_pool
from digest.render import render_digest
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Paper, SignalSnapshot, SubscriberState
from digest.store.pools import find_pool, pool_entries
from digest.store.types import utcnow
from digest.web import create_app
from tests.conftest import ARTIFACTS, free_port, serve_in_thread
from tests.screenshots import keep_screenshot
from tests.web.support import add

VIEWPORTS: dict[str, ViewportSize] = {
    "1280": {"width": 1280, "height": 900},
    "390": {"width": 390, "height": 844},
}
SCHEMES: tuple[Literal["light", "dark"], ...] = ("light", "dark")
ABSTRACTS = [
    "We study how sparse mixtures of experts route tokens under a fixed compute budget and "
    "show that a learned router with a load-balancing loss matches dense baselines. " * 5,
    "A planner based on denoising diffusion proposes whole arm trajectories at once; on "
    "twelve manipulation tasks it doubles the success rate of behaviour cloning. " * 5,
    "Gradient-boosted trees, tuned with care, still beat recent deep tabular models on most "
    "of the forty-five benchmark datasets we re-ran with fixed seeds and budgets. " * 5,
]
TITLES = [
    "Sparse Mixtures Route Tokens Faster Than Dense Transformers At Equal Compute Budgets",
    "Diffusion Planners for Robot Arms",
    "Quiet Baselines for Tabular Learning Revisited: A Large-Scale Reproducibility Study",
]

# Each paper block as the reader meets it: the classes of its parts, in order, and the text
# of its title, abstract and link buttons.
PAPER_BLOCKS = """() => [...document.querySelectorAll('td.paper')].map(td => ({
    parts: [...td.children].map(c => c.className).filter(c => !/why|feedback/.test(c)),
    title: td.querySelector('.paper-title').textContent.trim(),
    abstract: (td.querySelector('.abstract') || {textContent: ''}).textContent.trim(),
    links: [...td.querySelectorAll('.links a')].map(a => a.textContent.trim()),
}))"""


@dataclass(frozen=True)
class Live:
    url: str
    day: date
    email_html: str


def _store_papers(db: Database, day: date) -> None:
    now = utcnow()
    with db.session() as session:
        for rank, title in enumerate(TITLES, start=1):
            arxiv_id = f"2611.{rank:05d}"
            paper = Paper(
                arxiv_id=arxiv_id,
                title=title,
                abstract=ABSTRACTS[rank - 1],
                authors=[f"Author {rank}", "Ada Lovelace", "Alan Turing", "Grace Hopper"],
                url=f"https://huggingface.co/papers/{arxiv_id}",
                pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
                code_url=f"https://github.com/example/paper-{rank}",
                project_url=f"https://example.org/projects/{rank}",
                categories=["cs.LG", "cs.CL"],
                listed_on=day,
                published_at=now - timedelta(hours=6),
                source="hf",
            )
            paper.signals.append(
                SignalSnapshot(
                    observed_at=now - timedelta(hours=1),
                    source="hf",
                    upvotes=400 // rank,
                    comments=3,
                    stars=1200 if rank == 1 else None,
                )
            )
            session.add(paper)
        session.flush()
        assert build_pool(session, day, Settings().ranking, now) is not None


def _email_html(db: Database, settings: Settings, day: date) -> str:
    """The HTML part of the digest a subscriber who follows nothing gets for `day`."""
    with db.session() as session:
        pool = find_pool(session, day)
        assert pool is not None
        entries = pool_entries(session, pool, limit=settings.web.archive_papers)
    message = render_digest(
        settings.email,
        subscriber_id=7,
        email="reader@example.org",
        edition_date=day,
        entries=entries,
    )
    html = message.get_body(("html",))
    assert html is not None
    content: str = html.get_content()
    return content


@pytest.fixture
def live(sqlite_db: Database, settings: Settings) -> Iterator[Live]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app_settings = settings.model_copy(update={"base_url": url})
    day = utcnow().date()
    _store_papers(sqlite_db, day)
    app = create_app(app_settings, sqlite_db, lambda: None)
    with serve_in_thread(app, port):
        yield Live(url, day, _email_html(sqlite_db, app_settings, day))


def _page(browser: Browser, width: str, scheme: Literal["light", "dark"]) -> Page:
    context = browser.new_context(viewport=VIEWPORTS[width], color_scheme=scheme)
    return context.new_page()


def _fits_width(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def _background_is_dark(page: Page) -> bool:
    rgb = page.evaluate(
        "getComputedStyle(document.body).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)"
    )
    return bool(sum(rgb) / 3 < 80)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", VIEWPORTS)
def test_edition_page_reads_like_the_email(
    live: Live, browser: Browser, width: str, scheme: Literal["light", "dark"]
) -> None:
    page = _page(browser, width, scheme)
    page.goto(f"{live.url}/archive/{live.day.isoformat()}")
    keep_screenshot(page, ARTIFACTS / f"archive-day-{width}-{scheme}.png")

    assert _fits_width(page), "the page scrolls sideways"
    assert _background_is_dark(page) is (scheme == "dark")
    web: list[dict[str, Any]] = page.evaluate(PAPER_BLOCKS)
    email_page = _page(browser, width, scheme)
    email_page.set_content(live.email_html)
    email: list[dict[str, Any]] = email_page.evaluate(PAPER_BLOCKS)
    assert len(web) == len(TITLES)
    assert web == email  # same parts in the same order, same title, abstract and links
    blocks = "[...document.querySelectorAll('td.paper')].reduce((h, td) => h + td.offsetHeight, 0)"
    web_height, email_height = page.evaluate(blocks), email_page.evaluate(blocks)
    assert web_height <= email_height * 1.1, "the web copy's papers take much more room"
    # Titles read as headings, as in the email: not underlined.
    decorations = page.evaluate(
        "[...document.querySelectorAll('.paper-title a')]"
        ".map(a => getComputedStyle(a).textDecorationLine)"
    )
    assert set(decorations) == {"none"}
    # The date stays whole in the heading: "1 December 2026" never breaks across lines.
    heights = page.evaluate(
        "(() => { const s = document.querySelector('h1 .nowrap'); const r = s.getClientRects();"
        " return r.length; })()"
    )
    assert heights == 1
    page.context.close()
    email_page.context.close()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", VIEWPORTS)
def test_archive_index_and_missing_day(
    live: Live, browser: Browser, width: str, scheme: Literal["light", "dark"]
) -> None:
    page = _page(browser, width, scheme)

    page.goto(f"{live.url}/archive")
    keep_screenshot(page, ARTIFACTS / f"archive-index-{width}-{scheme}.png")
    assert _fits_width(page)
    day_item = page.locator(".archive-days li").first
    assert "3 papers" in day_item.inner_text()
    assert TITLES[0][:40] in day_item.inner_text()

    response = page.goto(f"{live.url}/archive/2020-01-01")
    keep_screenshot(page, ARTIFACTS / f"archive-missing-{width}-{scheme}.png")
    assert response is not None and response.status == 404
    assert _fits_width(page)
    assert page.locator("h1").inner_text() == "No edition on Wednesday 1 January 2020"
    assert page.locator("h1 .nowrap").evaluate("s => s.getClientRects().length") == 1
    page.locator(f'a[href="/archive/{live.day.isoformat()}"]').click()
    # The click starts a navigation: wait for the day's page rather than count at once.
    page.wait_for_url(f"{live.url}/archive/{live.day.isoformat()}")
    expect(page.locator("td.paper")).to_have_count(len(TITLES))
    page.context.close()


@pytest.mark.parametrize("width", VIEWPORTS)
def test_preferences_page_offers_the_personal_feed(
    live: Live, browser: Browser, sqlite_db: Database, settings: Settings, width: str
) -> None:
    email = "feed.reader@example.org"
    row = add(sqlite_db, email, SubscriberState.ACTIVE)
    app_settings = settings.model_copy(update={"base_url": live.url})
    page = _page(browser, width, "light")

    page.goto(links.preferences_url(app_settings, row.id, email))
    section = page.locator("#personal-feed")
    section.scroll_into_view_if_needed()
    keep_screenshot(section, ARTIFACTS / f"archive-personal-feed-{width}.png")

    assert _fits_width(page)
    feed_url = page.get_by_label("Your feed address").input_value()
    assert feed_url.startswith(f"{live.url}/feed.atom?token=") and "feed.reader" not in feed_url
    response = page.request.get(feed_url)
    assert response.status == 200 and "<feed" in response.text()
    assert email not in response.text()
    page.context.close()
