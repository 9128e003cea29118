"""/preferences?token=: edit follows and schedule, preview, download and delete one's data."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from digest.pipeline.emails import CONFIRMATION_EMAIL
from digest.preferences import Frequency
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState, Suppression
from digest.store.suppression import suppression_hash
from digest.store.types import utcnow
from digest.tokens import Purpose
from tests.web.conftest import Recorder
from tests.web.support import (
    BROWSER,
    PaperSpec,
    add,
    add_edition,
    browser_post,
    csrf_from,
    find_subscriber,
    subscribe,
    subscriber,
    tampered,
    token,
)

TITLES = [
    "Sparse Mixtures Route Tokens Faster",
    "Diffusion Planners for Robot Arms",
    "Quiet Baselines for Tabular Learning",
    "Protein Folding with Language Priors",
    "Cheap Evaluation of Speech Recognisers",
]


def is_personal(titles: list[str]) -> bool:
    """The preview of CHANGES: three papers (edition_size), the one matching the followed
    topics first; every paper is by the followed author, so the rest may be any of them."""
    return len(titles) == 3 and titles[0] == TITLES[1] and set(titles) <= set(TITLES)


CHANGES = {
    "topics": "diffusion, robot arms",
    "categories": "cs.RO, cs.LG",
    "authors": "Ada Lovelace",
    "frequency": "weekly",
    "send_weekday": "4",
    "timezone": "Asia/Tokyo",
    "send_hour": "18",
    "edition_size": "3",
}


@pytest.fixture
def reader(sqlite_db: Database) -> Subscriber:
    return add(sqlite_db, "reader@example.com", SubscriberState.ACTIVE)


@pytest.fixture
def page(settings: Settings, reader: Subscriber) -> str:
    return f"/preferences?token={token(settings, Purpose.PREFERENCES, reader)}"


def with_edition(db: Database, papers: int = 5) -> None:
    now = utcnow()
    specs = [PaperSpec(f"2501.0000{i}", TITLES[i], upvotes=100 - i) for i in range(papers)]
    add_edition(db, now.date() - timedelta(days=1), now - timedelta(days=1), specs)


def preview_titles(html: str) -> list[str]:
    section = (
        html.split('id="preview"', 1)[1].split("</ol>", 1)[0] if 'id="preview"' in html else ""
    )
    return re.findall(r'class="title"[^>]*>([^<]+)<', section)


def test_get_shows_current_values_and_a_preview_without_changing_anything(
    sqlite_db: Database, sqlite_client: TestClient, page: str, reader: Subscriber
) -> None:
    with_edition(sqlite_db)

    response = sqlite_client.get(page)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert "reader@example.com" in html
    assert '<option value="UTC" selected>' in html
    assert '<option value="7" selected>07:00</option>' in html
    assert (
        'name="edition_size" type="number" min="1" max="50" inputmode="numeric" value="10"' in html
    )
    assert preview_titles(html) == TITLES
    assert subscriber(sqlite_db, reader.email).updated_at == reader.updated_at


def test_save_stores_every_preference(
    sqlite_db: Database, sqlite_client: TestClient, page: str
) -> None:
    with_edition(sqlite_db)

    response = browser_post(sqlite_client, page, page, {**CHANGES, "action": "save"})

    assert response.status_code == 200
    assert "Your preferences are saved" in response.text
    row = subscriber(sqlite_db, "reader@example.com")
    assert row.topics == ["diffusion", "robot arms"]
    assert row.categories == ["cs.RO", "cs.LG"]
    assert row.authors == ["Ada Lovelace"]
    assert row.frequency is Frequency.WEEKLY
    assert (row.send_weekday, row.timezone, row.send_hour, row.edition_size) == (
        4,
        "Asia/Tokyo",
        18,
        3,
    )
    # Personalised: the paper on diffusion and robot arms moves ahead of the day's top trend.
    assert is_personal(preview_titles(response.text))
    assert '<option value="Asia/Tokyo" selected>' in response.text


def test_preview_shows_the_unsaved_settings_and_saves_nothing(
    sqlite_db: Database, sqlite_client: TestClient, page: str
) -> None:
    with_edition(sqlite_db)

    response = browser_post(sqlite_client, page, page, {**CHANGES, "action": "preview"})

    assert response.status_code == 200
    assert "nothing is saved" in response.text
    assert is_personal(preview_titles(response.text))
    assert subscriber(sqlite_db, "reader@example.com").edition_size == 10


def test_preview_comes_first_and_says_what_it_shows(
    sqlite_db: Database, sqlite_client: TestClient, page: str
) -> None:
    with_edition(sqlite_db)
    day = utcnow().date() - timedelta(days=1)

    html = browser_post(sqlite_client, page, page, {**CHANGES, "action": "preview"}).text

    assert html.index('id="preview-heading"') < html.index("What you follow")
    assert f"The 3 papers you would get, picked for you from the edition of {day:%A}" in html
    assert day.isoformat() not in html


def test_a_daily_reader_without_a_weekday_keeps_the_stored_one(
    sqlite_db: Database, sqlite_client: TestClient, page: str, reader: Subscriber
) -> None:
    daily = {**CHANGES, "frequency": "daily", "action": "save"}
    del daily["send_weekday"]  # the page disables the weekday while "every day" is chosen

    response = browser_post(sqlite_client, page, page, daily)

    assert response.status_code == 200
    row = subscriber(sqlite_db, "reader@example.com")
    assert (row.frequency, row.send_weekday, row.edition_size) == (
        Frequency.DAILY,
        reader.send_weekday,
        3,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("topics", "x" * 101, "at most 100 characters"),
        ("categories", "not a category!", "is not an arXiv category"),
        ("authors", ", ".join(f"a{i}" for i in range(21)), "at most 20 authors"),
        ("frequency", "hourly", "Choose daily or weekly"),
        ("send_weekday", "9", "between Monday (0) and Sunday (6)"),
        ("timezone", "Mars/Olympus", "Unknown timezone"),
        ("send_hour", "24", "between 0 and 23"),
        ("send_hour", "seven", "must be a whole number"),
        ("edition_size", "0", "between 1 and 50"),
        ("edition_size", "500", "between 1 and 50"),
    ],
)
def test_bad_values_are_explained_and_nothing_is_saved(
    sqlite_db: Database, sqlite_client: TestClient, page: str, field: str, value: str, message: str
) -> None:
    response = browser_post(sqlite_client, page, page, {**CHANGES, field: value, "action": "save"})

    assert response.status_code == 422
    assert message in response.text
    assert f'id="{field}-error"' in response.text
    assert 'role="alert"' in response.text
    row = subscriber(sqlite_db, "reader@example.com")
    assert (row.topics, row.edition_size, row.timezone) == ([], 10, "UTC")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_tampered_or_wrong_token_is_refused(
    sqlite_client: TestClient, settings: Settings, reader: Subscriber, method: str
) -> None:
    good = token(settings, Purpose.PREFERENCES, reader)
    for bad in (tampered(good), token(settings, Purpose.UNSUBSCRIBE, reader), ""):
        response = sqlite_client.request(method, "/preferences", params={"token": bad})
        assert response.status_code == 400
        assert "This link does not work" in response.text


def test_export_downloads_everything_stored_as_json(
    sqlite_client: TestClient, settings: Settings, reader: Subscriber, page: str
) -> None:
    browser_post(sqlite_client, page, page, {**CHANGES, "action": "save"})

    response = sqlite_client.get(
        "/preferences/export", params={"token": token(settings, Purpose.PREFERENCES, reader)}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "no-store"
    data = json.loads(response.text)
    assert data["email"] == "reader@example.com"
    assert data["state"] == "active"
    assert data["preferences"]["topics"] == ["diffusion", "robot arms"]
    assert data["preferences"]["frequency"] == "weekly"
    assert data["deliveries"] == [] and data["feedback"] == []


def test_delete_needs_the_box_ticked(
    sqlite_db: Database,
    sqlite_client: TestClient,
    page: str,
    settings: Settings,
    reader: Subscriber,
) -> None:
    action = f"/preferences/delete?token={token(settings, Purpose.PREFERENCES, reader)}"

    response = browser_post(sqlite_client, page, action, {})

    assert response.status_code == 422
    assert "Tick the box" in response.text
    assert find_subscriber(sqlite_db, "reader@example.com") is not None


def test_delete_keeps_only_a_hash_and_the_address_is_never_mailed_again(
    sqlite_db: Database,
    sqlite_client: TestClient,
    page: str,
    settings: Settings,
    reader: Subscriber,
    enqueued: Recorder,
) -> None:
    action = f"/preferences/delete?token={token(settings, Purpose.PREFERENCES, reader)}"

    response = browser_post(sqlite_client, page, action, {"confirm_delete": "yes"})

    assert response.status_code == 200
    assert "Your data is deleted" in response.text
    assert find_subscriber(sqlite_db, "reader@example.com") is None
    with sqlite_db.session() as session:
        hashes = list(session.scalars(select(Suppression.email_hash)))
    assert hashes == [suppression_hash("reader@example.com")]
    assert "reader" not in hashes[0]

    again = subscribe(sqlite_client, "Reader@Example.com")
    fresh = subscribe(sqlite_client, "someone.else@example.com")

    assert again.status_code == 200 and "Check your inbox" in again.text
    assert find_subscriber(sqlite_db, "reader@example.com") is None
    assert [kind for kind, _ in enqueued] == [CONFIRMATION_EMAIL]  # only someone.else's
    assert fresh.status_code == 200
    assert sqlite_client.get(page).status_code == 400  # the old links are dead


def test_csrf_field_is_on_every_form_of_the_page(sqlite_client: TestClient, page: str) -> None:
    html = sqlite_client.get(page).text

    # Follows and schedule, seed papers, the learning switch, forget my ratings, delete.
    assert html.count("<form") == html.count('name="csrf_token"') == 5
    assert csrf_from(html)
    assert BROWSER["Origin"] == "http://testserver"
