"""A subscriber's whole visit in real headless Chromium, against uvicorn and a real SMTP server.

Screenshots at desktop and phone width are kept in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from digest.pipeline.notices import LocalOutbox
from digest.preferences import Frequency
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.store.types import utcnow
from digest.web import create_app
from tests.conftest import ARTIFACTS, SmtpSink, free_port, serve_in_thread
from tests.screenshots import keep_screenshot
from tests.web.support import PaperSpec, add_edition, subscriber
from tests.web.test_emails import text_of, wait_for_mail

DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
PAPERS = [
    PaperSpec("2501.00001", "Sparse Mixtures Route Tokens Faster", upvotes=180, comments=4),
    PaperSpec("2501.00002", "Diffusion Planners for Robot Arms", upvotes=57, stars=1200),
    PaperSpec("2501.00003", "Quiet Baselines for Tabular Learning", upvotes=4),
]


@dataclass(frozen=True)
class Live:
    url: str
    settings: Settings


@pytest.fixture
def live(sqlite_db: Database, settings: Settings) -> Iterator[Live]:
    """The app on uvicorn, its links pointing at itself, its outbox sent from the web process
    to the SMTP sink as `digest serve` does."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app_settings = settings.model_copy(update={"base_url": url})
    now = utcnow()
    add_edition(sqlite_db, now.date() - timedelta(days=1), now - timedelta(days=1), PAPERS)
    outbox = LocalOutbox(sqlite_db, app_settings, interval=1.0)
    app = create_app(app_settings, sqlite_db, outbox.kick, outbox=outbox)
    with serve_in_thread(app, port):
        yield Live(url, app_settings)


def shot(page: Page, name: str) -> None:
    keep_screenshot(page, ARTIFACTS / f"{name}.png")


def fits_width(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def unlabelled_fields(page: Page) -> list[str]:
    """Visible form fields without a <label for=…> (the honeypot is hidden from everyone)."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
              .filter(f => f.type !== 'hidden' && !f.closest('.hp'))
              .filter(f => !document.querySelector(`label[for="${f.id}"]`))
              .map(f => f.name)"""
        )
    )


def test_subscribe_confirm_tune_preview_unsubscribe_resubscribe(
    live: Live, browser: Browser, sqlite_db: Database, smtp_sink: SmtpSink
) -> None:
    context = browser.new_context(viewport=DESKTOP, timezone_id="Europe/Berlin", locale="en-GB")
    page = context.new_page()

    page.goto(f"{live.url}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("research papers")
    expect(page.locator("ol.papers li")).to_have_count(3)
    expect(page.get_by_label("Your timezone")).to_have_value("Europe/Berlin")  # from the browser
    assert unlabelled_fields(page) == []
    shot(page, "01-landing-desktop")

    page.get_by_label("Email address").fill("Reader@Example.com")
    page.get_by_label("Topics").fill("diffusion, robotics")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    shot(page, "02-check-inbox-desktop")

    confirmation = wait_for_mail(smtp_sink, "reader@example.com")[0]
    link = re.search(r"http://127\.0\.0\.1:\d+/confirm\?token=[\w.\-]+", text_of(confirmation))
    assert link, text_of(confirmation)
    page.goto(link.group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You're subscribed")
    expect(page.locator("main")).to_contain_text("Europe/Berlin")
    assert subscriber(sqlite_db, "reader@example.com").state is SubscriberState.ACTIVE

    page.get_by_role("link", name="change your topics, timezone or schedule").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your preferences")
    expect(page.get_by_label("Topics")).to_have_value("diffusion, robotics")
    assert unlabelled_fields(page) == []
    page.get_by_label("arXiv categories").fill("cs.RO, cs.LG")
    page.get_by_label("Once a week").check()
    page.get_by_label("Day of the week").select_option(label="Friday")
    page.get_by_label("Time of day").select_option(label="18:00")
    page.get_by_label("Number of papers").fill("2")
    page.get_by_role("button", name="Preview with these settings").click()
    expect(page.get_by_role("status")).to_contain_text("nothing is saved")
    expect(page.locator("#preview li")).to_have_count(2)
    assert subscriber(sqlite_db, "reader@example.com").edition_size == 10
    shot(page, "03-preview-desktop")

    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("status")).to_contain_text("Your preferences are saved")
    row = subscriber(sqlite_db, "reader@example.com")
    assert (row.frequency, row.send_weekday, row.send_hour, row.edition_size) == (
        Frequency.WEEKLY,
        4,
        18,
        2,
    )
    assert row.categories == ["cs.RO", "cs.LG"]
    preferences_url = page.url

    page.get_by_role("link", name="Unsubscribe").last.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe")
    shot(page, "04-unsubscribe-desktop")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You're unsubscribed")
    assert subscriber(sqlite_db, "reader@example.com").state is SubscriberState.UNSUBSCRIBED
    shot(page, "05-unsubscribed-desktop")

    page.get_by_role("button", name="Subscribe again").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You're subscribed")
    assert subscriber(sqlite_db, "reader@example.com").state is SubscriberState.ACTIVE

    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    small = phone.new_page()
    for name, url in (
        ("landing", f"{live.url}/"),
        ("preferences", preferences_url),
        ("archive", f"{live.url}/archive"),
    ):
        small.goto(url)
        assert fits_width(small), f"the {name} page scrolls sideways on a phone"
        shot(small, f"06-{name}-phone")
    phone.close()
    context.close()


def test_subscribing_works_without_javascript(
    live: Live, browser: Browser, sqlite_db: Database, smtp_sink: SmtpSink
) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()

    page.goto(f"{live.url}/")
    expect(page.get_by_label("Your timezone")).to_have_value("UTC")
    page.get_by_label("Email address").fill("no.script@example.com")
    page.get_by_role("button", name="Subscribe").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    assert wait_for_mail(smtp_sink, "no.script@example.com")
    assert subscriber(sqlite_db, "no.script@example.com").timezone == "UTC"
    context.close()


def test_keyboard_reaches_the_form_and_shows_focus(live: Live, browser: Browser) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{live.url}/")

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.get_by_label("Email address").focus()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")

    assert outline == "solid"
    context.close()
