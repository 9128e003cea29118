"""Learning from feedback, end to end in headless Chromium: a reader opens "More like this"
from a digest they received, confirms on the page, and their next edition changes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from digest.pipeline.plan import send_due_now
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Feedback
from digest.web import create_app
from tests.conftest import ARTIFACTS, SmtpSink, free_port, serve_in_thread
from tests.factories import make_paper, make_subscriber
from tests.screenshots import keep_screenshot

DAY1 = date(2026, 11, 24)
NOW1 = datetime(2026, 11, 24, 9, tzinfo=UTC)
NOW2 = NOW1 + timedelta(days=1)


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def _html(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


def _titles(message: EmailMessage) -> list[str]:
    return re.findall(r"^\d+\. (.+?)\r?$", _text(message), flags=re.MULTILINE)


@pytest.fixture
def live(sqlite_db: Database, settings: Settings) -> Iterator[Settings]:
    port = free_port()
    app_settings = settings.model_copy(
        update={"base_url": f"http://127.0.0.1:{port}", "database_url": sqlite_db.url}
    )
    app = create_app(app_settings, sqlite_db, lambda: None)
    with serve_in_thread(app, port):
        yield app_settings


def test_more_like_this_from_an_email_changes_the_next_edition(
    sqlite_db: Database, live: Settings, smtp_sink: SmtpSink, browser: Browser
) -> None:
    with sqlite_db.session() as session:
        make_paper(session, listed_on=DAY1, upvotes=300, title="Scaling laws for language models")
        make_paper(session, listed_on=DAY1, upvotes=200, title="Robot arms learn to grasp cups")
        make_paper(session, listed_on=DAY1, upvotes=150, title="Token pruning for faster LLMs")
        make_paper(session, listed_on=DAY1, upvotes=120, title="Instruction tuning data at scale")
        make_paper(session, listed_on=DAY1, upvotes=20, title="Dexterous robot hands grasp tools")
        make_subscriber(session, "reader@example.org", edition_size=2)
    send_due_now(sqlite_db, live, NOW1, edition=DAY1)
    [first] = smtp_sink.received
    assert _titles(first) == ["Scaling laws for language models", "Robot arms learn to grasp cups"]

    # Each paper carries its own "More like this" link, in the text part as in the HTML.
    text = _text(first).replace("\r\n", "\n")
    link = re.search(r"\d+\. Robot arms learn to grasp cups\n.*?More like this: (\S+)", text, re.S)
    assert link, "no feedback link for the paper in the text part"
    assert f'href="{link.group(1)}"' in _html(first)
    page = browser.new_page()
    page.goto(link.group(1))
    expect(page.locator("body")).to_contain_text("Robot arms learn to grasp cups")
    with sqlite_db.session() as session:  # opening the link records nothing
        assert session.scalars(select(Feedback)).all() == []
    page.get_by_role("button", name="Yes, more like this").click()
    expect(page.locator("body")).to_contain_text("Noted: more papers like")
    keep_screenshot(page, ARTIFACTS / "feedback-thanks.png")
    page.close()
    with sqlite_db.session() as session:
        assert [f.rating for f in session.scalars(select(Feedback))] == [1]

    send_due_now(sqlite_db, live, NOW2, edition=DAY1 + timedelta(days=1))
    second = smtp_sink.received[1]
    # Without the vote the trend order would give the pruning and instruction papers; the
    # other robot paper, the least upvoted of all, now comes first.
    assert _titles(second)[0] == "Dexterous robot hands grasp tools"
