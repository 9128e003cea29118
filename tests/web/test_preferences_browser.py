"""The preferences page's mutes, seed papers and "what it learned" in Debian's Chromium,
against `digest serve` as its own process, at desktop (1280 px) and phone (390 px) width:
axe finds no violation, nothing scrolls sideways on the phone. Screenshots go to
test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.store.types import utcnow
from digest.tokens import Purpose, make_token
from tests.conftest import TEST_SECRET
from tests.web.axe import axe_violations
from tests.web.served import Served, digest_serve
from tests.web.support import PaperSpec, add, add_edition, subscriber

DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
PAPERS = [
    PaperSpec("2501.00001", "Sparse Mixtures Route Tokens Faster", upvotes=180, comments=4),
    PaperSpec("2501.00002", "Diffusion Planners for Robot Arms", upvotes=57, stars=1200),
    PaperSpec("2501.00003", "Benchmark-Only Leaderboards for Agents", upvotes=40),
    PaperSpec("2501.00004", "Quiet Baselines for Tabular Learning", upvotes=4),
]
READER = "reader@example.com"


@dataclass(frozen=True)
class Site:
    served: Served
    db: Database
    preferences: str  # the reader's preferences URL


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with digest_serve(tmp_path, attempts=10) as served:
        db = Database(f"sqlite:///{tmp_path / 'served.db'}")
        now = utcnow()
        add_edition(db, now.date() - timedelta(days=1), now - timedelta(days=1), PAPERS)
        row = add(db, READER, SubscriberState.ACTIVE)
        token = make_token(TEST_SECRET, Purpose.PREFERENCES, row.id, row.email)
        yield Site(served, db, f"{served.url}/preferences?token={token}")
        db.dispose()


def preview_titles(page: Page) -> list[str]:
    return [title.strip() for title in page.locator("#preview .title").all_inner_texts()]


def fits_width(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def check_page(page: Page, name: str) -> None:
    """No axe violation, no sideways scroll at the page's width, and a screenshot."""
    assert axe_violations(page) == [], name
    assert fits_width(page), f"{name} scrolls sideways"
    page.screenshot(path=str(Path("test-artifacts") / f"prefs-{name}.png"), full_page=True)


def test_muting_in_the_browser_at_desktop_and_phone_width(site: Site, browser: Browser) -> None:
    Path("test-artifacts").mkdir(exist_ok=True)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(site.preferences)
    expect(page.get_by_role("heading", name="What you never want to see")).to_be_visible()
    assert "Benchmark-Only Leaderboards for Agents" in preview_titles(page)
    check_page(page, "mutes-desktop")

    page.get_by_label("Topics").fill("leaderboards, diffusion")
    page.get_by_label("Muted words and phrases").fill("leaderboard, benchmark")
    page.get_by_label("Muted authors").fill("Grace Hopper")
    page.get_by_role("button", name="Preview with these settings").click()
    expect(page.locator("#mute-conflicts")).to_contain_text(
        "You follow and mute 'leaderboards': muted wins"
    )
    assert "Benchmark-Only Leaderboards for Agents" not in preview_titles(page)
    check_page(page, "mutes-preview-desktop")

    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("status")).to_contain_text("Your preferences are saved")
    expect(page.locator("#mute-conflicts")).to_contain_text("muted wins")
    row = subscriber(site.db, READER)
    assert (row.muted, row.muted_authors) == (["leaderboard", "benchmark"], ["Grace Hopper"])
    assert "Benchmark-Only Leaderboards for Agents" not in preview_titles(page)
    context.close()

    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    small = phone.new_page()
    small.goto(site.preferences)
    expect(small.locator("#mute-conflicts")).to_be_visible()
    check_page(small, "mutes-phone")
    phone.close()
