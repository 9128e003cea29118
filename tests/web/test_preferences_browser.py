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
from digest.store.feedback import Vote, record_feedback
from digest.store.models import SubscriberState
from digest.store.types import utcnow
from digest.tokens import Purpose, make_token
from tests.conftest import REDIS_URL, TEST_SECRET
from tests.screenshots import keep_screenshot
from tests.sources.arxiv_standin import arxiv_standin
from tests.web.axe import axe_violations
from tests.web.served import Served, digest_serve
from tests.web.support import PaperSpec, add, add_edition, set_fields, subscriber

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
    with (
        arxiv_standin() as arxiv,
        digest_serve(
            tmp_path,
            attempts=10,
            extra_env={
                "DIGEST_ARXIV_API_URL": arxiv.url,
                "DIGEST_ARXIV_LOCK_URL": REDIS_URL,
                "DIGEST_ARXIV_INTERVAL_SECONDS": "0",
            },
        ) as served,
    ):
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
    keep_screenshot(page, Path("test-artifacts") / f"prefs-{name}.png")


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


LIBRARY = b"""@article{quinlan2024,
  title = {Grasping in {Clutter} with Robot Hands},
  author = {Quinlan, Ada},
  abstract = {Robot hands pick household objects from cluttered bins.},
}
"""


def test_seed_papers_and_what_it_learned_at_desktop_and_phone_width(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    Path("test-artifacts").mkdir(exist_ok=True)
    library = tmp_path / "My Library.bib"
    library.write_bytes(LIBRARY)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(site.preferences)
    expect(page.get_by_role("heading", name="Start from your own papers")).to_be_visible()

    page.get_by_label("arXiv ids or links, DOIs or titles").fill("https://example.com/paper")
    page.get_by_role("button", name="Add papers").click()
    alert = page.locator("#seeds-notice")
    expect(alert).to_contain_text("No entry can be used, so nothing was added.")
    expect(alert).to_contain_text("Line 1: a link to neither arXiv nor doi.org")
    check_page(page, "seeds-refused-desktop")

    page.get_by_label("arXiv ids or links, DOIs or titles").fill("arXiv:2406.00001")
    page.get_by_label("Or a file").set_input_files(str(library))
    page.get_by_role("button", name="Add papers").click()
    expect(page.locator("#seeds-notice")).to_have_text("Added 2 papers.")
    expect(page.locator("#seed-list li")).to_have_count(2)
    expect(page.locator("#seed-list")).to_contain_text("Dexterous Robot Hands Grasp Household")
    expect(page.locator("#seed-list")).to_contain_text("looked up on arXiv")
    expect(page.locator("#weighs-terms")).to_be_visible()  # learned from the seeds
    check_page(page, "seeds-added-desktop")

    page.get_by_role("button", name="Remove “Grasping in Clutter with Robot Hands”").click()
    expect(page.locator("#seeds-notice")).to_have_text("Removed 1 paper.")
    expect(page.locator("#seed-list li")).to_have_count(1)

    row = subscriber(site.db, READER)
    with site.db.session() as session:
        record_feedback(session, row.id, "2501.00002", Vote.MORE)
        record_feedback(session, row.id, "2501.00004", Vote.LESS)
    set_fields(site.db, row.id, topics=["robot arms"])
    page.goto(site.preferences)
    expect(page.locator("#shaping-community")).to_contain_text("Other readers of your topics")
    expect(page.locator("#rated-up")).to_contain_text("Diffusion Planners for Robot Arms")
    expect(page.locator("#rated-down")).to_contain_text("Quiet Baselines for Tabular Learning")
    expect(page.locator("#learning-form")).to_contain_text(
        "your “more like this” also count, pooled with other readers"
    )
    page.get_by_role("button", name="Stop learning from my ratings").click()
    expect(page.locator("#learned-notice")).to_contain_text("no longer learns from your ratings")
    assert subscriber(site.db, READER).learn_from_ratings is False
    page.get_by_role("button", name="Learn from my ratings again").click()
    expect(page.locator("#learned-notice")).to_contain_text("shape your digest again")
    check_page(page, "learned-desktop")

    page.get_by_label("Yes, forget all my ratings").check()
    page.get_by_role("button", name="Forget my ratings").click()
    expect(page.locator("#learned-notice")).to_have_text("Forgot your 2 ratings.")
    expect(page.locator("#rated-up")).to_have_count(0)
    context.close()

    with site.db.session() as session:
        record_feedback(session, row.id, "2501.00002", Vote.MORE)
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    small = phone.new_page()
    small.goto(site.preferences)
    expect(small.locator("#seed-list li")).to_have_count(1)
    expect(small.locator("#rated-up")).to_be_visible()
    check_page(small, "seeds-and-learned-phone")
    phone.close()
