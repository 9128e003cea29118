"""GET and POST /unsubscribe?token=: a GET never changes state; POST and one-click do, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from starlette.testclient import TestClient

from digest.preferences import Frequency
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from digest.tokens import Purpose
from tests.web.support import BROWSER, add, browser_post, subscriber, tampered, token

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def active(db: Database) -> Subscriber:
    return add(db, "reader@example.com", SubscriberState.ACTIVE)


@pytest.fixture
def link(settings: Settings, active: Subscriber) -> dict[str, str]:
    return {"token": token(settings, Purpose.UNSUBSCRIBE, active)}


def test_get_shows_address_the_button_and_two_gentler_ways_without_changing_state(
    db: Database, client: TestClient, link: dict[str, str]
) -> None:
    response = client.get("/unsubscribe", params=link)

    assert response.status_code == 200
    assert "reader@example.com" in response.text
    assert f'<form method="post" action="/unsubscribe?token={link["token"]}">' in response.text
    assert f'action="/unsubscribe/weekly?token={link["token"]}"' in response.text
    assert f'action="/unsubscribe/fewer?token={link["token"]}"' in response.text
    assert response.text.count("<button") == 3
    assert "5 papers in each digest instead of 10." in response.text
    row = subscriber(db, "reader@example.com")
    assert (row.state, row.frequency, row.edition_size) == (
        SubscriberState.ACTIVE,
        Frequency.DAILY,
        10,
    )


def test_weekly_instead_keeps_the_subscription_and_says_what_changed(
    db: Database, client: TestClient, link: dict[str, str]
) -> None:
    page = f"/unsubscribe?token={link['token']}"

    response = browser_post(client, page, f"/unsubscribe/weekly?token={link['token']}")

    assert response.status_code == 200
    assert "once a week instead of every day" in response.text
    assert "/preferences?token=" in response.text
    row = subscriber(db, "reader@example.com")
    assert (row.state, row.frequency, row.edition_size) == (
        SubscriberState.ACTIVE,
        Frequency.WEEKLY,
        10,
    )
    again = client.get("/unsubscribe", params=link)
    assert "/unsubscribe/weekly" not in again.text  # weekly already: only "fewer" is left
    assert "/unsubscribe/fewer" in again.text


def test_fewer_papers_halves_the_edition_and_says_what_changed(
    db: Database, client: TestClient, link: dict[str, str]
) -> None:
    page = f"/unsubscribe?token={link['token']}"

    response = browser_post(client, page, f"/unsubscribe/fewer?token={link['token']}")

    assert response.status_code == 200
    assert "has 5 papers instead of 10" in response.text
    row = subscriber(db, "reader@example.com")
    assert (row.state, row.frequency, row.edition_size) == (
        SubscriberState.ACTIVE,
        Frequency.DAILY,
        5,
    )


@pytest.mark.parametrize("choice", ["weekly", "fewer"])
def test_gentler_ways_refuse_a_browser_post_without_the_csrf_token(
    db: Database, client: TestClient, link: dict[str, str], choice: str
) -> None:
    response = client.post(
        f"/unsubscribe/{choice}", params=link, data={"csrf_token": "forged"}, headers=BROWSER
    )

    assert response.status_code == 403
    row = subscriber(db, "reader@example.com")
    assert (row.frequency, row.edition_size) == (Frequency.DAILY, 10)


@pytest.mark.parametrize("choice", ["weekly", "fewer"])
def test_gentler_ways_refuse_a_tampered_link(
    db: Database, client: TestClient, link: dict[str, str], choice: str
) -> None:
    response = client.post(f"/unsubscribe/{choice}", params={"token": tampered(link["token"])})

    assert response.status_code == 400
    row = subscriber(db, "reader@example.com")
    assert (row.frequency, row.edition_size) == (Frequency.DAILY, 10)


def test_gentler_ways_change_nothing_once_unsubscribed(
    db: Database, client: TestClient, link: dict[str, str]
) -> None:
    client.post("/unsubscribe", params=link, data=ONE_CLICK)

    response = client.post("/unsubscribe/weekly", params=link)

    assert response.status_code == 409
    row = subscriber(db, "reader@example.com")
    assert (row.state, row.frequency) == (SubscriberState.UNSUBSCRIBED, Frequency.DAILY)


def test_post_unsubscribes_and_twice_is_fine(
    db: Database, client: TestClient, link: dict[str, str]
) -> None:
    first = client.post("/unsubscribe", params=link)

    assert first.status_code == 200
    assert "You're unsubscribed" in first.text
    assert 'action="/resubscribe?token=' in first.text
    assert "Subscribe again</button>" in first.text
    row = subscriber(db, "reader@example.com")
    assert row.state is SubscriberState.UNSUBSCRIBED
    assert row.unsubscribed_at is not None

    second = client.post("/unsubscribe", params=link)

    assert second.status_code == 200
    again = subscriber(db, "reader@example.com")
    assert again.state is SubscriberState.UNSUBSCRIBED
    assert again.unsubscribed_at == row.unsubscribed_at


def test_get_after_unsubscribing_says_so_and_offers_only_resubscribe(
    client: TestClient, link: dict[str, str]
) -> None:
    client.post("/unsubscribe", params=link)

    response = client.get("/unsubscribe", params=link)

    assert response.status_code == 200
    assert "does not receive the digest" in response.text
    assert response.text.count("<button") == 1
    assert "Subscribe again</button>" in response.text


def test_one_click_form_encoded(db: Database, client: TestClient, link: dict[str, str]) -> None:
    response = client.post("/unsubscribe", params=link, data=ONE_CLICK)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "You are unsubscribed.\n"
    assert subscriber(db, "reader@example.com").state is SubscriberState.UNSUBSCRIBED


def test_one_click_multipart(db: Database, client: TestClient, link: dict[str, str]) -> None:
    response = client.post(
        "/unsubscribe", params=link, files={"List-Unsubscribe": (None, b"One-Click")}
    )

    assert response.status_code == 200
    assert subscriber(db, "reader@example.com").state is SubscriberState.UNSUBSCRIBED


def test_pending_subscriber_can_unsubscribe(
    db: Database, client: TestClient, settings: Settings
) -> None:
    row = add(db, "pending@example.com", SubscriberState.PENDING)

    client.post("/unsubscribe", params={"token": token(settings, Purpose.UNSUBSCRIBE, row)})

    assert subscriber(db, "pending@example.com").state is SubscriberState.UNSUBSCRIBED


def test_suppressed_subscriber_stays_suppressed(
    db: Database, client: TestClient, settings: Settings
) -> None:
    row = add(db, "bounced@example.com", SubscriberState.BOUNCED)

    response = client.post(
        "/unsubscribe", params={"token": token(settings, Purpose.UNSUBSCRIBE, row)}, data=ONE_CLICK
    )

    assert response.status_code == 200
    assert subscriber(db, "bounced@example.com").state is SubscriberState.BOUNCED


@pytest.mark.parametrize("one_click", [False, True])
@pytest.mark.parametrize("kind", ["tampered", "missing", "confirm token"])
def test_bad_token_post_is_400_and_changes_nothing(
    db: Database,
    client: TestClient,
    settings: Settings,
    active: Subscriber,
    kind: str,
    one_click: bool,
) -> None:
    good = token(settings, Purpose.UNSUBSCRIBE, active)
    params = {
        "tampered": {"token": tampered(good)},
        "missing": {},
        "confirm token": {"token": token(settings, Purpose.CONFIRM, active)},
    }[kind]

    response = client.post("/unsubscribe", params=params, data=ONE_CLICK if one_click else {})

    assert response.status_code == 400
    assert subscriber(db, "reader@example.com").state is SubscriberState.ACTIVE


def test_bad_token_get_is_400(client: TestClient, link: dict[str, str]) -> None:
    response = client.get("/unsubscribe", params={"token": tampered(link["token"])})

    assert response.status_code == 400
    assert "This link does not work" in response.text
    assert "<button" not in response.text


def test_unsubscribe_link_never_expires(
    db: Database, client: TestClient, settings: Settings, active: Subscriber
) -> None:
    with freeze_time(datetime.now(UTC) - timedelta(days=3650)):
        ancient = token(settings, Purpose.UNSUBSCRIBE, active)

    response = client.post("/unsubscribe", params={"token": ancient}, data=ONE_CLICK)

    assert response.status_code == 200
    assert subscriber(db, "reader@example.com").state is SubscriberState.UNSUBSCRIBED


def test_resubscribe_from_the_unsubscribed_page_restores_the_subscription(
    db: Database, client: TestClient, link: dict[str, str]
) -> None:
    page = f"/unsubscribe?token={link['token']}"
    browser_post(client, page, page)

    again = browser_post(client, page, f"/resubscribe?token={link['token']}")

    assert again.status_code == 200
    assert "You're subscribed" in again.text
    row = subscriber(db, "reader@example.com")
    assert row.state is SubscriberState.ACTIVE
    assert row.unsubscribed_at is None


def test_resubscribe_cannot_revive_a_bounced_address(
    db: Database, client: TestClient, settings: Settings
) -> None:
    row = add(db, "bounced@example.com", SubscriberState.BOUNCED)
    action = f"/resubscribe?token={token(settings, Purpose.UNSUBSCRIBE, row)}"

    response = browser_post(client, "/", action)

    assert response.status_code == 409
    assert subscriber(db, "bounced@example.com").state is SubscriberState.BOUNCED
