"""POST /subscribe: double opt-in, no account enumeration, clear errors for bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from digest.pipeline.emails import ALREADY_SUBSCRIBED_EMAIL, CONFIRMATION_EMAIL
from digest.pipeline.notices import send_outbox
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.store.outbox import outbox_counts
from digest.store.types import utcnow
from digest.web import create_app
from digest.web.app import MAX_FORM_BYTES
from tests.conftest import SmtpSink
from tests.web.conftest import Recorder
from tests.web.support import (
    add,
    confirm,
    find_subscriber,
    mailed_confirm_tokens,
    set_fields,
    subscribe,
    subscriber,
    subscriber_count,
    without_nonce,
)

CHECK_INBOX = "Check your inbox"
CONFIRMATION = CONFIRMATION_EMAIL


def test_new_address_gets_check_inbox_and_one_confirmation(
    db: Database, client: TestClient, enqueued: Recorder
) -> None:
    response = subscribe(
        client, "New.Person@Example.COM", topics="diffusion, robotics", timezone="Europe/Paris"
    )

    assert response.status_code == 200
    assert CHECK_INBOX in response.text
    row = subscriber(db, "new.person@example.com")
    assert row.state is SubscriberState.PENDING
    assert row.topics == ["diffusion", "robotics"]
    assert row.timezone == "Europe/Paris"
    assert row.confirmation_sent_at is not None
    assert enqueued == [(CONFIRMATION, row.id)]


def test_missing_timezone_falls_back_to_default(db: Database, client: TestClient) -> None:
    subscribe(client, "no-js@example.com")

    assert subscriber(db, "no-js@example.com").timezone == "UTC"


def test_the_outbox_is_kicked_after_the_request_is_committed(
    db: Database, settings: Settings
) -> None:
    seen: list[int] = []

    def kick() -> None:
        with db.session() as session:  # a fresh session and connection
            seen.append(outbox_counts(session)["pending"])

    with TestClient(create_app(settings, db, kick)) as test_client:
        subscribe(test_client, "committed@example.com")

    assert seen == [1]


def test_pending_address_is_not_mailed_again_within_ten_minutes(
    db: Database, client: TestClient, enqueued: Recorder
) -> None:
    first = subscribe(client, "twice@example.com")
    second = subscribe(client, "twice@example.com")

    assert without_nonce(second.text) == without_nonce(first.text)
    assert second.status_code == 200
    row = subscriber(db, "twice@example.com")
    assert enqueued == [(CONFIRMATION, row.id)]

    set_fields(db, row.id, confirmation_sent_at=utcnow() - timedelta(minutes=11))
    subscribe(client, "twice@example.com")

    assert enqueued == [(CONFIRMATION, row.id)] * 2
    assert subscriber(db, "twice@example.com").state is SubscriberState.PENDING


def test_active_address_gets_same_page_and_one_already_subscribed_email(
    db: Database, client: TestClient, enqueued: Recorder
) -> None:
    row = add(db, "active@example.com", SubscriberState.ACTIVE)

    first = subscribe(client, "active@example.com")
    second = subscribe(client, "Active@Example.com")

    assert CHECK_INBOX in first.text
    assert without_nonce(second.text) == without_nonce(first.text)
    assert enqueued == [(ALREADY_SUBSCRIBED_EMAIL, row.id)]
    assert subscriber(db, "active@example.com").state is SubscriberState.ACTIVE

    set_fields(db, row.id, confirmation_sent_at=utcnow() - timedelta(minutes=11))
    subscribe(client, "active@example.com")

    assert enqueued == [(ALREADY_SUBSCRIBED_EMAIL, row.id)] * 2


def test_unsubscribed_address_can_subscribe_again_and_nothing_changes_until_confirmed(
    db: Database, client: TestClient, smtp_sink: SmtpSink, enqueued: Recorder
) -> None:
    row = add(db, "back@example.com", SubscriberState.UNSUBSCRIBED)
    set_fields(db, row.id, topics=["old topic"], timezone="UTC", unsubscribed_at=utcnow())

    response = subscribe(client, "back@example.com", topics="new topic", timezone="Asia/Tokyo")

    assert CHECK_INBOX in response.text
    assert enqueued == [(CONFIRMATION, row.id)]
    waiting = subscriber(db, "back@example.com")
    assert waiting.state is SubscriberState.UNSUBSCRIBED
    assert (waiting.topics, waiting.timezone) == (["old topic"], "UTC")

    # The link that was mailed: it names the request whose choices it applies.
    (mailed,) = mailed_confirm_tokens(smtp_sink, "back@example.com")
    confirm(client, mailed)

    back = subscriber(db, "back@example.com")
    assert back.state is SubscriberState.ACTIVE
    assert (back.topics, back.timezone) == (["new topic"], "Asia/Tokyo")


def test_subscribing_again_does_not_overwrite_an_active_subscribers_choices(
    db: Database, client: TestClient, enqueued: Recorder
) -> None:
    row = add(db, "keep@example.com", SubscriberState.ACTIVE)
    set_fields(db, row.id, topics=["mine"], timezone="Europe/Oslo")

    subscribe(client, "keep@example.com", topics="someone else's", timezone="Asia/Tokyo")

    kept = subscriber(db, "keep@example.com")
    assert (kept.topics, kept.timezone) == (["mine"], "Europe/Oslo")
    assert enqueued == [(ALREADY_SUBSCRIBED_EMAIL, row.id)]


@pytest.mark.parametrize("state", [SubscriberState.BOUNCED, SubscriberState.COMPLAINED])
def test_suppressed_address_gets_same_page_and_stays_suppressed(
    db: Database, client: TestClient, enqueued: Recorder, state: SubscriberState
) -> None:
    add(db, "gone@example.com", state)

    response = subscribe(client, "gone@example.com")

    assert CHECK_INBOX in response.text
    assert enqueued == []
    assert subscriber(db, "gone@example.com").state is state


def test_every_known_state_answers_the_identical_page(db: Database, client: TestClient) -> None:
    for state in SubscriberState:
        add(db, f"{state.value}@example.com", state)
    pages = {
        without_nonce(subscribe(client, address).text)
        for address in ["unknown@example.com", *(f"{s.value}@example.com" for s in SubscriberState)]
    }

    assert len(pages) == 1


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "Please enter an email address."),
        ("not-an-email", "@-sign"),
        ("a" * 288 + "@example.com", "longer than 254"),
        ("a@b.com\r\nBcc: x@y.com", "line breaks"),
        ("a@b.com\nBcc: x@y.com", "line breaks"),
    ],
)
def test_invalid_email_re_renders_form_with_error(
    db: Database, client: TestClient, enqueued: Recorder, email: str, message: str
) -> None:
    response = subscribe(client, email, topics="robotics")

    assert response.status_code == 422
    assert message in response.text
    assert 'role="alert"' in response.text
    assert 'aria-invalid="true" aria-describedby="form-error"' in response.text
    assert 'value="robotics"' in response.text  # what was typed is kept
    assert enqueued == []
    assert subscriber_count(db) == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"topics": "x" * 101}, "at most 100 characters"),
        ({"topics": ", ".join(f"topic{i}" for i in range(21))}, "at most 20 topics"),
        ({"timezone": "Mars/Olympus_Mons"}, "Unknown timezone"),
        ({"timezone": "../../etc/passwd"}, "Unknown timezone"),
    ],
)
def test_bad_preferences_re_render_form_with_error(
    db: Database, client: TestClient, enqueued: Recorder, fields: dict[str, str], message: str
) -> None:
    response = subscribe(client, "fine@example.com", **fields)

    assert response.status_code == 422
    assert message in response.text
    assert enqueued == []
    assert subscriber_count(db) == 0


def test_typed_values_are_escaped_when_shown_again(sqlite_client: TestClient) -> None:
    response = subscribe(sqlite_client, '"><script>alert(1)</script>')

    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in response.text
    assert "&#34;&gt;&lt;script&gt;" in response.text


def test_oversized_body_is_refused(
    sqlite_db: Database, sqlite_client: TestClient, enqueued: Recorder
) -> None:
    response = subscribe(sqlite_client, "big@example.com", topics="x" * MAX_FORM_BYTES)

    assert response.status_code == 413
    assert enqueued == []
    assert subscriber_count(sqlite_db) == 0


def test_oversized_chunked_body_is_refused(
    sqlite_db: Database, sqlite_client: TestClient, enqueued: Recorder
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"email=big%40example.com&topics="
        for _ in range(20):
            yield b"x" * 1024

    response = sqlite_client.post(
        "/subscribe",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 413
    assert "too large" in response.text
    assert enqueued == []
    assert subscriber_count(sqlite_db) == 0


def test_file_upload_is_refused(sqlite_db: Database, sqlite_client: TestClient) -> None:
    response = sqlite_client.post(
        "/subscribe",
        data={"email": "files@example.com"},
        files={"topics": ("topics.txt", b"robotics", "text/plain")},
    )

    assert response.status_code == 400
    assert subscriber_count(sqlite_db) == 0


def test_multipart_form_is_accepted(
    sqlite_db: Database, sqlite_client: TestClient, enqueued: Recorder
) -> None:
    response = sqlite_client.post(
        "/subscribe", files={"email": (None, b"multi@example.com"), "topics": (None, b"nlp")}
    )

    assert response.status_code == 200
    assert subscriber(sqlite_db, "multi@example.com").topics == ["nlp"]
    assert len(enqueued) == 1


def test_a_broker_outage_changes_nothing_for_the_visitor_and_loses_no_email(
    db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    def broken_broker() -> None:
        raise ConnectionError("broker down")

    with TestClient(create_app(settings, db, broken_broker)) as test_client:
        answered = subscribe(test_client, "retry@example.com")
        again = subscribe(test_client, "retry@example.com")

    assert answered.status_code == again.status_code == 200
    assert CHECK_INBOX in answered.text
    assert find_subscriber(db, "retry@example.com") is None  # nothing changed but the outbox
    sent = send_outbox(db, settings).sent  # what a sweep does once a sender runs
    row = subscriber(db, "retry@example.com")
    assert sent == [(CONFIRMATION, row.id)]
    assert len(smtp_sink.messages_to("retry@example.com")) == 1
