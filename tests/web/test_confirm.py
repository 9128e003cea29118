"""/confirm?token=: GET shows a Confirm button, POST activates; expired, tampered and
stale links get a clear page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from freezegun import freeze_time
from starlette.testclient import TestClient

from digest.pipeline.emails import CONFIRMATION_EMAIL
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from digest.store.subscribers import remove_subscriber
from digest.store.types import utcnow
from digest.tokens import Purpose, make_token, read_token
from tests.web.conftest import Recorder
from tests.web.support import (
    browser_post,
    confirm,
    set_fields,
    subscribe,
    subscriber,
    tampered,
    token,
    without_nonce,
)


@pytest.fixture
def pending(db: Database, client: TestClient) -> Subscriber:
    subscribe(client, "confirm.me@example.com", topics="robotics", timezone="Asia/Tokyo")
    return subscriber(db, "confirm.me@example.com")


def test_valid_token_activates_and_links_onward(
    db: Database, client: TestClient, settings: Settings, pending: Subscriber
) -> None:
    response = confirm(client, token(settings, Purpose.CONFIRM, pending))

    assert response.status_code == 200
    assert "You're subscribed" in response.text
    assert "confirm.me@example.com" in response.text
    assert "robotics" in response.text and "Asia/Tokyo" in response.text
    row = subscriber(db, "confirm.me@example.com")
    assert row.state is SubscriberState.ACTIVE
    assert row.confirmed_at is not None
    links = {
        path: parse_qs(urlsplit(url).query)["token"][0]
        for url in _hrefs(response.text)
        if (path := urlsplit(url).path) in ("/preferences", "/unsubscribe")
    }
    for path, purpose in (
        ("/preferences", Purpose.PREFERENCES),
        ("/unsubscribe", Purpose.UNSUBSCRIBE),
    ):
        assert read_token(settings.secret_key, purpose, links[path]).matches(row.email)


def test_confirming_twice_is_harmless(
    db: Database, client: TestClient, settings: Settings, pending: Subscriber
) -> None:
    link = token(settings, Purpose.CONFIRM, pending)
    first = confirm(client, link)
    confirmed_at = subscriber(db, pending.email).confirmed_at

    second = confirm(client, link)

    assert first.status_code == second.status_code == 200
    assert subscriber(db, pending.email).confirmed_at == confirmed_at


def test_expired_token_explains_and_offers_a_fresh_start(
    db: Database, client: TestClient, settings: Settings, pending: Subscriber
) -> None:
    with freeze_time(datetime.now(UTC) - timedelta(hours=49)):
        old = make_token(settings.secret_key, Purpose.CONFIRM, pending.id, pending.email)

    response = client.get("/confirm", params={"token": old})

    assert response.status_code == 400
    assert "expired" in response.text
    assert "48 hours" in response.text
    assert f'action="/confirm/resend?token={old}"' in response.text
    assert "Send me a new link</button>" in response.text
    assert subscriber(db, pending.email).state is SubscriberState.PENDING


def test_token_just_inside_its_lifetime_still_works(
    db: Database, client: TestClient, settings: Settings, pending: Subscriber
) -> None:
    with freeze_time(datetime.now(UTC) - timedelta(hours=47)):
        recent = make_token(settings.secret_key, Purpose.CONFIRM, pending.id, pending.email)

    assert confirm(client, recent).status_code == 200
    assert subscriber(db, pending.email).state is SubscriberState.ACTIVE


@pytest.mark.parametrize("kind", ["tampered", "missing", "empty", "other purpose", "other key"])
def test_bad_token_is_a_clear_400_and_changes_nothing(
    db: Database, client: TestClient, settings: Settings, pending: Subscriber, kind: str
) -> None:
    good = token(settings, Purpose.CONFIRM, pending)
    params = {
        "tampered": {"token": tampered(good)},
        "missing": {},
        "empty": {"token": ""},
        "other purpose": {"token": token(settings, Purpose.UNSUBSCRIBE, pending)},
        "other key": {"token": make_token("x" * 40, Purpose.CONFIRM, pending.id, pending.email)},
    }[kind]

    response = client.get("/confirm", params=params)

    assert response.status_code == 400
    assert "This link does not work" in response.text
    assert subscriber(db, pending.email).state is SubscriberState.PENDING


def test_token_for_a_removed_subscriber_is_a_400(
    db: Database, client: TestClient, settings: Settings, pending: Subscriber
) -> None:
    link = {"token": token(settings, Purpose.CONFIRM, pending)}
    with db.session() as session:
        remove_subscriber(session, pending.email)

    response = client.get("/confirm", params=link)

    assert response.status_code == 400
    assert "no longer exists" in response.text


def test_confirm_after_unsubscribing_does_not_reactivate(
    db: Database, client: TestClient, settings: Settings, pending: Subscriber
) -> None:
    client.post("/unsubscribe", params={"token": token(settings, Purpose.UNSUBSCRIBE, pending)})

    response = client.get("/confirm", params={"token": token(settings, Purpose.CONFIRM, pending)})

    assert response.status_code == 409
    assert "subscribe again" in response.text
    assert subscriber(db, pending.email).state is SubscriberState.UNSUBSCRIBED


def _hrefs(html: str) -> list[str]:
    return [part.split('"', 1)[0].replace("&amp;", "&") for part in html.split('href="')[1:]]


def test_expired_link_resends_once_per_ten_minutes(
    db: Database, client: TestClient, settings: Settings, pending: Subscriber, enqueued: Recorder
) -> None:
    with freeze_time(datetime.now(UTC) - timedelta(hours=49)):
        old = make_token(settings.secret_key, Purpose.CONFIRM, pending.id, pending.email)
    set_fields(db, pending.id, confirmation_sent_at=utcnow() - timedelta(hours=49))
    page = f"/confirm?token={old}"
    action = f"/confirm/resend?token={old}"

    first = browser_post(client, page, action)
    second = browser_post(client, page, action)

    assert first.status_code == second.status_code == 200
    assert "Check your inbox" in first.text
    assert without_nonce(second.text) == without_nonce(first.text)
    assert enqueued == [(CONFIRMATION_EMAIL, pending.id)] * 2  # subscribe, then one resend


def test_expired_link_of_an_active_subscriber_sends_nothing(
    db: Database, client: TestClient, settings: Settings, pending: Subscriber, enqueued: Recorder
) -> None:
    confirm(client, token(settings, Purpose.CONFIRM, pending))
    set_fields(db, pending.id, confirmation_sent_at=utcnow() - timedelta(hours=49))
    with freeze_time(datetime.now(UTC) - timedelta(hours=49)):
        old = make_token(settings.secret_key, Purpose.CONFIRM, pending.id, pending.email)

    response = browser_post(client, f"/confirm?token={old}", f"/confirm/resend?token={old}")

    assert "Check your inbox" in response.text
    assert enqueued == [(CONFIRMATION_EMAIL, pending.id)]


def test_tampered_link_offers_to_send_a_new_one_by_address(
    client: TestClient, settings: Settings, pending: Subscriber
) -> None:
    bad = tampered(token(settings, Purpose.CONFIRM, pending))

    page = client.get("/confirm", params={"token": bad})
    resend = client.post("/confirm/resend", params={"token": bad})

    assert page.status_code == 400
    assert '<form method="post" action="/subscribe">' in page.text
    assert "Send me a new link</button>" in page.text
    assert resend.status_code == 400
    assert "This link does not work" in resend.text


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_opening_the_link_changes_nothing(
    db: Database, client: TestClient, settings: Settings, pending: Subscriber, method: str
) -> None:
    """Link scanners and previews fetch links; only the button's POST confirms."""
    link = token(settings, Purpose.CONFIRM, pending)

    response = client.request(method, "/confirm", params={"token": link})

    assert response.status_code == 200
    if method == "GET":
        assert "confirm.me@example.com" in response.text
        assert 'method="post"' in response.text and ">Confirm</button>" in response.text
    assert subscriber(db, pending.email).state is SubscriberState.PENDING
    assert subscriber(db, pending.email).confirmed_at is None


def test_a_cross_site_post_confirms_nothing(
    db: Database, client: TestClient, settings: Settings, pending: Subscriber
) -> None:
    link = token(settings, Purpose.CONFIRM, pending)

    response = client.post(
        "/confirm", params={"token": link}, headers={"Sec-Fetch-Site": "cross-site"}
    )

    assert response.status_code == 403
    assert subscriber(db, pending.email).state is SubscriberState.PENDING
