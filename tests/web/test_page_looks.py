"""Every page a reader sees, in real headless Chromium at 1280 and 390 px, light and dark.

Each page is kept as a screenshot in test-artifacts/pages/ (`<page>-<width>-<scheme>.png`)
and checked for what a reader would notice: sideways scrolling, tap targets too small or too
close, and the layout defects of issue 15 (a widowed headline, cramped cards, buttons of
different widths, a preview out of sight).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import pytest
from playwright.sync_api import Browser, BrowserContext, FloatRect, Page, ViewportSize, expect
from sqlalchemy import update

from digest import links
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Paper, SignalSnapshot, Subscriber, SubscriberState
from digest.store.types import utcnow
from digest.tokens import Purpose
from digest.web import create_app
from tests.conftest import ARTIFACTS, free_port, serve_in_thread
from tests.screenshots import keep_screenshot
from tests.web.support import PaperSpec, add, add_edition, subscriber, token

SHOTS = ARTIFACTS / "pages"
Scheme = Literal["light", "dark"]
VIEWPORTS: dict[int, ViewportSize] = {
    1280: {"width": 1280, "height": 900},
    390: {"width": 390, "height": 844},
}
LOOKS = [(width, scheme) for width in VIEWPORTS for scheme in ("light", "dark")]
PAPERS = [
    PaperSpec("2501.00001", "Sparse Mixtures Route Tokens Faster", upvotes=180, comments=4),
    PaperSpec("2501.00002", "Diffusion Planners for Robot Arms", upvotes=57, stars=1200),
    PaperSpec("2501.00003", "Quiet Baselines for Tabular Learning", upvotes=4),
]
TLDR = "Routing each token to two of 64 experts halves the compute of a dense model."
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")

# Targets smaller than 44 px high must keep a 44 px band around them clear of other
# targets (inline links in running text), as WCAG 2.5.8 measures spacing.
TAP_TARGETS = """() => {
  const visible = el => {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && r.right > 0
      && !el.closest('.hp, [aria-hidden="true"]');
  };
  const targetOf = el => (el.type === 'radio' || el.type === 'checkbox')
    ? (document.querySelector(`label[for="${el.id}"]`) || el) : el;
  const els = [...document.querySelectorAll('a, button, input, select, textarea')]
    .filter(el => el.type !== 'hidden' && visible(el)).map(targetOf);
  const boxes = els.map(el => {
    const r = el.getBoundingClientRect();
    return {el, x0: r.left, x1: r.right, y0: r.top + scrollY, y1: r.bottom + scrollY};
  });
  const problems = [];
  for (const b of boxes) {
    const h = b.y1 - b.y0;
    const inline = b.el.tagName === 'A' && getComputedStyle(b.el).display === 'inline';
    if (h >= 44) continue;
    const name = el => `${el.tagName} "${el.textContent.trim()}"`;
    if (!inline) { problems.push(`${name(b.el)} ${Math.round(h)} px high`); continue; }
    const pad = (44 - h) / 2;
    for (const o of boxes) {
      if (o === b || o.el.contains(b.el) || b.el.contains(o.el)) continue;
      const across = o.x0 < b.x1 && b.x0 < o.x1, near = o.y0 < b.y1 + pad && b.y0 - pad < o.y1;
      if (across && near) {
        problems.push(`${name(b.el)} is within 44 px of ${name(o.el)}`);
      }
    }
  }
  return [...new Set(problems)];
}"""


@dataclass(frozen=True)
class Site:
    url: str
    settings: Settings
    db: Database


def store_papers(db: Database, day: date, now: datetime, source: str) -> None:
    """The papers, stored with their signals but no pool: what a fetch leaves before a send."""
    with db.session() as session:
        for spec in PAPERS:
            paper = Paper(
                arxiv_id=spec.arxiv_id,
                title=spec.title,
                abstract="We study a question at length. " * 12,
                authors=list(spec.authors),
                url=f"https://arxiv.org/abs/{spec.arxiv_id}",
                listed_on=day,
                published_at=now - timedelta(hours=6),
                source=source,
            )
            paper.signals.append(
                SignalSnapshot(
                    observed_at=now - timedelta(hours=1),
                    source=source,
                    upvotes=spec.upvotes,
                    comments=spec.comments,
                    stars=spec.stars,
                )
            )
            session.add(paper)


@pytest.fixture
def site(sqlite_db: Database, settings: Settings) -> Iterator[Site]:
    """The app on uvicorn over a store with yesterday's edition; one paper has a TL;DR."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app_settings = settings.model_copy(update={"base_url": url})
    now = utcnow()
    add_edition(sqlite_db, now.date() - timedelta(days=1), now - timedelta(days=1), PAPERS)
    with sqlite_db.session() as session:
        session.execute(update(Paper).where(Paper.arxiv_id == "2501.00001").values(summary=TLDR))
    with serve_in_thread(create_app(app_settings, sqlite_db, lambda: None), port):
        yield Site(url, app_settings, sqlite_db)


def context_for(browser: Browser, width: int, scheme: Scheme) -> BrowserContext:
    phone = width < 600
    return browser.new_context(
        viewport=VIEWPORTS[width],
        color_scheme=scheme,
        is_mobile=phone,
        has_touch=phone,
        timezone_id="Europe/Berlin",
        locale="en-GB",
    )


def look(page: Page, name: str, width: int, scheme: Scheme) -> None:
    """Keep the screenshot, then check what every page must get right."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    keep_screenshot(page, SHOTS / f"{name}-{width}-{scheme}.png")
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, f"the {name} page scrolls sideways at {width} px"
    problems = page.evaluate(TAP_TARGETS)
    assert not problems, f"tap targets on the {name} page at {width} px: {problems}"


def box(page: Page, selector: str) -> FloatRect:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


def gap_between(page: Page, upper: str, lower: str) -> float:
    """The space from the bottom of `upper` to the top of `lower`, in CSS pixels."""
    above, below = box(page, upper), box(page, lower)
    return below["y"] - (above["y"] + above["height"])


def words_on_last_line(page: Page, selector: str) -> int:
    """How many words the last rendered line of an element's text holds."""
    count: Any = page.eval_on_selector(
        selector,
        """el => {
          const text = el.firstChild, words = [], range = document.createRange();
          for (const m of text.data.matchAll(/[^\\s\\u00a0]+/g)) {
            range.setStart(text, m.index); range.setEnd(text, m.index + m[0].length);
            words.push(range.getBoundingClientRect().top);
          }
          const last = Math.max(...words);
          return words.filter(top => Math.abs(top - last) < 2).length;
        }""",
    )
    return int(count)


def reader(site: Site, email: str) -> Subscriber:
    return add(site.db, email, SubscriberState.ACTIVE)


def link(site: Site, purpose: Purpose, row: Subscriber) -> str:
    path = {Purpose.UNSUBSCRIBE: "unsubscribe", Purpose.PREFERENCES: "preferences"}[purpose]
    return f"{site.url}/{path}?token={token(site.settings, purpose, row)}"


@pytest.mark.parametrize(("width", "scheme"), LOOKS)
def test_landing_and_subscribing(site: Site, browser: Browser, width: int, scheme: Scheme) -> None:
    context = context_for(browser, width, scheme)
    page = context.new_page()

    page.goto(f"{site.url}/")
    expect(page.locator("ol.papers li")).to_have_count(3)
    expect(page.locator("ol.papers li").first).to_contain_text(f"TL;DR (machine-written) {TLDR}")
    second = page.locator("ol.papers li").nth(1)
    expect(second).to_contain_text("An abstract.")  # no TL;DR: the abstract's opening
    expect(second.locator(".tldr-label")).to_have_count(0)
    yesterday = page.get_by_role("link", name=re.compile("Read the whole edition"))
    expect(yesterday).to_have_attribute(
        "href", f"/archive/{(utcnow().date() - timedelta(days=1)).isoformat()}"
    )
    expect(page.locator(".mail-sample")).to_contain_text("Sparse Mixtures Route Tokens Faster")
    expect(page.locator("main")).not_to_contain_text("Sample papers")
    assert words_on_last_line(page, "h1") >= 2, "the headline ends on a lone word"
    look(page, "landing", width, scheme)

    page.get_by_role("link", name=re.compile("Read the whole edition")).click()
    expect(page.locator("body")).to_contain_text("Sparse Mixtures Route Tokens Faster")
    keep_screenshot(page, SHOTS / f"archive-edition-{width}-{scheme}.png")
    page.goto(f"{site.url}/archive")
    keep_screenshot(page, SHOTS / f"archive-{width}-{scheme}.png")

    page.goto(f"{site.url}/")
    page.get_by_label("Email address").fill("new.reader@example.com")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    look(page, "check-inbox", width, scheme)

    pending = add(site.db, "pending@example.com", SubscriberState.PENDING)
    page.goto(f"{site.url}/confirm?token={token(site.settings, Purpose.CONFIRM, pending)}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
    look(page, "confirm", width, scheme)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You're subscribed")
    look(page, "confirmed", width, scheme)

    page.goto(f"{site.url}/unsubscribe?token=broken")
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    look(page, "bad-link", width, scheme)
    context.close()


@pytest.mark.parametrize(("width", "scheme"), LOOKS)
def test_preferences(site: Site, browser: Browser, width: int, scheme: Scheme) -> None:
    row = reader(site, "prefs@example.com")
    context = context_for(browser, width, scheme)
    page = context.new_page()

    page.goto(link(site, Purpose.PREFERENCES, row))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your preferences")
    assert gap_between(page, "#authors-hint", "h2:has-text('When you get it')") >= 24
    delete = box(page, "form:has(#confirm_delete)")
    assert box(page, "form:has(#confirm_delete) h3")["y"] - delete["y"] <= 24  # one padding
    assert gap_between(page, "form:has(#confirm_delete)", "p:has-text('Only want to stop')") >= 16
    save, preview = box(page, "button[value=save]"), box(page, "button[value=preview]")
    assert abs(save["width"] - preview["width"]) < 1, "Save and Preview differ in width"
    expect(page.get_by_label("Day of the week")).to_be_disabled()  # "every day" is chosen
    page.get_by_label("Once a week").check()
    expect(page.get_by_label("Day of the week")).to_be_enabled()
    page.get_by_label("Every day").check()
    look(page, "preferences", width, scheme)

    page.get_by_label("Number of papers").fill("2")
    page.get_by_role("button", name="Preview with these settings").click()
    expect(page.get_by_role("status")).to_contain_text("nothing is saved")
    expect(page.locator("#preview li")).to_have_count(2)
    heading = box(page, "#preview-heading")
    assert heading["y"] < VIEWPORTS[width]["height"] / 2, "the preview is out of sight"
    note = page.locator(".preview-note").inner_text()
    assert "The 2 papers you would get" in note and not ISO_DATE.search(note), note
    look(page, "preferences-preview", width, scheme)

    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("status")).to_contain_text("Your preferences are saved")
    stored = subscriber(site.db, "prefs@example.com")
    assert (stored.edition_size, stored.send_weekday) == (2, row.send_weekday)
    look(page, "preferences-saved", width, scheme)
    context.close()


@pytest.mark.parametrize(("width", "scheme"), LOOKS)
def test_unsubscribe_and_its_gentler_ways(
    site: Site, browser: Browser, width: int, scheme: Scheme
) -> None:
    context = context_for(browser, width, scheme)
    page = context.new_page()

    weekly = reader(site, "weekly@example.com")
    page.goto(link(site, Purpose.UNSUBSCRIBE, weekly))
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe")
    look(page, "unsubscribe", width, scheme)
    page.get_by_role("button", name="Weekly instead").click()
    expect(page.get_by_role("status")).to_contain_text("once a week instead of every day")
    assert subscriber(site.db, "weekly@example.com").frequency.value == "weekly"
    look(page, "unsubscribe-weekly", width, scheme)
    page.get_by_role("link", name=re.compile("Change the day")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your preferences")
    expect(page.get_by_label("Once a week")).to_be_checked()

    fewer = reader(site, "fewer@example.com")
    page.goto(link(site, Purpose.UNSUBSCRIBE, fewer))
    page.get_by_role("button", name="Fewer papers").click()
    expect(page.get_by_role("status")).to_contain_text("has 5 papers instead of 10")
    assert subscriber(site.db, "fewer@example.com").edition_size == 5
    look(page, "unsubscribe-fewer", width, scheme)

    leaving = reader(site, "leaving@example.com")
    page.goto(link(site, Purpose.UNSUBSCRIBE, leaving))
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You're unsubscribed")
    assert subscriber(site.db, "leaving@example.com").state is SubscriberState.UNSUBSCRIBED
    assert gap_between(page, "button:has-text('Subscribe again')", "a:has-text('home page')") >= 16
    look(page, "unsubscribed", width, scheme)
    page.goto(link(site, Purpose.UNSUBSCRIBE, leaving))
    look(page, "unsubscribe-already", width, scheme)
    context.close()


@pytest.mark.parametrize(("width", "scheme"), LOOKS)
def test_feedback(site: Site, browser: Browser, width: int, scheme: Scheme) -> None:
    row = reader(site, "votes@example.com")
    context = context_for(browser, width, scheme)
    page = context.new_page()

    page.goto(
        links.SubscriberLinks.make(site.settings, row.id, row.email).feedback("2501.00002", True)
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("More papers like this")
    assert gap_between(page, "main .card", "main .card + p") >= 16
    look(page, "feedback", width, scheme)
    page.get_by_role("button", name="Yes, more like this").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    look(page, "feedback-thanks", width, scheme)
    context.close()


@pytest.mark.parametrize(("width", "scheme"), LOOKS)
@pytest.mark.parametrize("source", ["hf", "sample"])
def test_landing_before_the_first_send(
    sqlite_db: Database,
    settings: Settings,
    browser: Browser,
    width: int,
    scheme: Scheme,
    source: str,
) -> None:
    now = utcnow()
    store_papers(sqlite_db, now.date(), now, source)
    port = free_port()
    app_settings = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    context = context_for(browser, width, scheme)
    page = context.new_page()

    with serve_in_thread(create_app(app_settings, sqlite_db, lambda: None), port) as url:
        page.goto(f"{url}/")
        expect(page.locator("main")).not_to_contain_text("coming soon")
        expect(page.locator("ol.papers li")).to_have_count(3)
        expect(page.locator("ol.papers li").first).to_contain_text(PAPERS[0].title)
        expect(page.locator(".mail-sample")).to_be_visible()
        sample = page.locator("ol.papers .tag", has_text="Sample")
        if source == "sample":
            expect(page.locator("#sample-notice")).to_contain_text("built-in sample")
            expect(sample).to_have_count(3)
            expect(page.locator(".mail-sample")).to_contain_text("Sample papers")
        else:
            expect(page.locator("#sample-notice")).to_have_count(0)
            expect(sample).to_have_count(0)
        look(page, f"landing-first-{source}", width, scheme)
    context.close()
