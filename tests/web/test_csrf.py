"""CSRF: every state-changing form needs its signed double-submit token when a browser sends it."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.tokens import Purpose
from tests.web.support import (
    BROWSER,
    add,
    browser_post,
    csrf_from,
    find_subscriber,
    subscriber,
    token,
)


def test_subscribe_from_our_page_works_and_sets_a_strict_cookie(
    sqlite_db: Database, sqlite_client: TestClient
) -> None:
    landing = sqlite_client.get("/")
    cookie = landing.headers["set-cookie"]

    response = sqlite_client.post(
        "/subscribe",
        data={"email": "browser@example.com", "csrf_token": csrf_from(landing.text)},
        headers=BROWSER,
    )

    assert response.status_code == 200
    assert "Check your inbox" in response.text
    assert "digest_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert subscriber(sqlite_db, "browser@example.com").state is SubscriberState.PENDING


@pytest.mark.parametrize(
    ("headers", "with_token"),
    [
        (BROWSER, False),
        ({"Origin": "https://evil.example"}, True),
        ({"Sec-Fetch-Site": "cross-site"}, True),
        ({"Sec-Fetch-Site": "same-site"}, True),
        ({"Origin": "null"}, True),
    ],
    ids=["no token", "other origin", "cross-site", "same-site", "opaque origin"],
)
def test_subscribe_without_token_or_from_elsewhere_is_refused(
    sqlite_db: Database, sqlite_client: TestClient, headers: dict[str, str], with_token: bool
) -> None:
    data = {"email": "victim@example.com"}
    if with_token:
        data["csrf_token"] = csrf_from(sqlite_client.get("/").text)

    response = sqlite_client.post("/subscribe", data=data, headers=headers)

    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert "reload the page" in response.text
    assert find_subscriber(sqlite_db, "victim@example.com") is None


def test_token_from_another_cookie_is_refused(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings
) -> None:
    stolen = csrf_from(sqlite_client.get("/").text)
    sqlite_client.cookies.clear()
    sqlite_client.get("/")  # a fresh cookie, which the stolen field does not match

    response = sqlite_client.post(
        "/subscribe", data={"email": "victim@example.com", "csrf_token": stolen}, headers=BROWSER
    )

    assert response.status_code == 403


@pytest.mark.parametrize("forged", ["Qz7mark\xa0", "tök", "\u2603" * 43])
def test_a_token_with_non_ascii_characters_is_refused_not_a_500(
    sqlite_db: Database, sqlite_client: TestClient, forged: str
) -> None:
    sqlite_client.get("/")  # a cookie to compare against
    response = sqlite_client.post(
        "/subscribe", data={"email": "victim@example.com", "csrf_token": forged}, headers=BROWSER
    )
    assert response.status_code == 403
    assert find_subscriber(sqlite_db, "victim@example.com") is None


@pytest.mark.parametrize(
    ("page", "action", "data"),
    [
        ("/unsubscribe?token={u}", "/unsubscribe?token={u}", {}),
        ("/unsubscribe?token={u}", "/resubscribe?token={u}", {}),
        ("/preferences?token={p}", "/preferences?token={p}", {"action": "save"}),
        ("/preferences?token={p}", "/preferences/delete?token={p}", {"confirm_delete": "yes"}),
    ],
)
def test_token_pages_refuse_forms_without_csrf(
    sqlite_db: Database,
    sqlite_client: TestClient,
    settings: Settings,
    page: str,
    action: str,
    data: dict[str, str],
) -> None:
    row = add(sqlite_db, "reader@example.com", SubscriberState.ACTIVE)
    links = {
        "u": token(settings, Purpose.UNSUBSCRIBE, row),
        "p": token(settings, Purpose.PREFERENCES, row),
    }
    sqlite_client.get(page.format(**links))

    refused = sqlite_client.post(action.format(**links), data=data, headers=BROWSER)

    assert refused.status_code == 403
    assert subscriber(sqlite_db, "reader@example.com").state is SubscriberState.ACTIVE


def test_one_click_unsubscribe_needs_no_csrf_token(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings
) -> None:
    row = add(sqlite_db, "reader@example.com", SubscriberState.ACTIVE)

    response = sqlite_client.post(
        "/unsubscribe",
        params={"token": token(settings, Purpose.UNSUBSCRIBE, row)},
        data={"List-Unsubscribe": "One-Click"},
        headers={"Sec-Fetch-Site": "cross-site"},  # even from a webmail's page
    )

    assert response.status_code == 200
    assert subscriber(sqlite_db, "reader@example.com").state is SubscriberState.UNSUBSCRIBED


def test_unsubscribe_button_works_with_its_token(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings
) -> None:
    row = add(sqlite_db, "reader@example.com", SubscriberState.ACTIVE)
    link = f"/unsubscribe?token={token(settings, Purpose.UNSUBSCRIBE, row)}"

    response = browser_post(sqlite_client, link, link)

    assert response.status_code == 200
    assert subscriber(sqlite_db, "reader@example.com").state is SubscriberState.UNSUBSCRIBED
