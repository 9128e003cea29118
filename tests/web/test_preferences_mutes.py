"""Mutes on /preferences, on SQLite and PostgreSQL: saved, applied to the preview, and a
mute that meets a follow is named on the page with the rule that the mute wins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from digest.store.types import utcnow
from digest.tokens import Purpose
from tests.web.support import PaperSpec, add, add_edition, browser_post, subscriber, token
from tests.web.test_preferences import TITLES, preview_titles

FORM = {
    "topics": "diffusion, web agents",
    "categories": "",
    "authors": "Ada Lovelace",
    "frequency": "daily",
    "send_weekday": "0",
    "timezone": "UTC",
    "send_hour": "7",
    "edition_size": "5",
}


@pytest.fixture
def reader(db: Database) -> Subscriber:
    return add(db, "reader@example.com", SubscriberState.ACTIVE)


@pytest.fixture
def page(settings: Settings, reader: Subscriber) -> str:
    return f"/preferences?token={token(settings, Purpose.PREFERENCES, reader)}"


def with_edition(db: Database) -> None:
    now = utcnow()
    specs = [PaperSpec(f"2501.0000{i}", TITLES[i], upvotes=100 - i) for i in range(5)]
    specs[3] = PaperSpec("2501.00003", TITLES[3], upvotes=97, authors=("Grace Hopper",))
    add_edition(db, now.date() - timedelta(days=1), now - timedelta(days=1), specs)


def test_mutes_are_saved_and_the_preview_leaves_their_papers_out(
    db: Database, client: TestClient, page: str
) -> None:
    with_edition(db)
    changes = {**FORM, "muted": "robot arm, Tabular", "muted_authors": "grace hopper"}

    response = browser_post(client, page, page, {**changes, "action": "save"})

    assert response.status_code == 200
    assert "Your preferences are saved" in response.text
    row = subscriber(db, "reader@example.com")
    assert (row.muted, row.muted_authors) == (["robot arm", "Tabular"], ["grace hopper"])
    shown = preview_titles(response.text)
    assert shown and not {TITLES[1], TITLES[2], TITLES[3]} & set(shown)
    assert 'id="muted"' in response.text and "robot arm, Tabular" in response.text


def test_a_mute_that_meets_a_follow_is_named_and_the_mute_wins(
    db: Database, client: TestClient, page: str
) -> None:
    with_edition(db)
    changes = {**FORM, "muted": "agents, Diffusion", "muted_authors": "ADA LOVELACE"}

    preview = browser_post(client, page, page, {**changes, "action": "preview"})
    saved = browser_post(client, page, page, {**changes, "action": "save"})
    again = client.get(page)

    for html in (preview.text, saved.text, again.text):
        assert "Muted wins over followed." in html
        assert "You follow &#39;web agents&#39; and mute &#39;agents&#39;: muted wins" in html
        assert "You follow and mute &#39;diffusion&#39;: muted wins" in html
        assert "You follow and mute the author Ada Lovelace: muted wins" in html


def test_no_conflict_no_notice(db: Database, client: TestClient, page: str) -> None:
    response = browser_post(client, page, page, {**FORM, "muted": "quantum", "action": "save"})

    assert response.status_code == 200
    assert "Muted wins" not in response.text


def test_too_many_mutes_is_a_field_error_and_nothing_is_saved(
    db: Database, client: TestClient, page: str
) -> None:
    many = ", ".join(f"word{i}" for i in range(51))

    response = browser_post(client, page, page, {**FORM, "muted": many, "action": "save"})

    assert response.status_code == 422
    assert "Mute at most 50 phrases." in response.text
    assert subscriber(db, "reader@example.com").muted == []
