"""The emails the subscribe form asks for, sent through the dispatchers to a real SMTP server."""

from __future__ import annotations

import time
from datetime import date
from email.message import EmailMessage

from starlette.testclient import TestClient

from digest import links
from digest.links import SubscriberLinks
from digest.pipeline.emails import ALREADY_SUBSCRIBED_EMAIL, CONFIRMATION_EMAIL
from digest.pipeline.notices import (
    LocalOutbox,
    queue_notice,
    render_subscriber_email,
    send_outbox,
)
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.tokens import Purpose, read_token
from tests.conftest import SmtpSink
from tests.web.support import add


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def wait_for_mail(sink: SmtpSink, address: str) -> list[EmailMessage]:
    deadline = time.monotonic() + 10
    while not sink.messages_to(address):
        assert time.monotonic() < deadline, f"no email reached {address}"
        time.sleep(0.02)
    return sink.messages_to(address)


def test_already_subscribed_email_carries_working_preferences_link(settings: Settings) -> None:
    message = render_subscriber_email(
        settings.email, ALREADY_SUBSCRIBED_EMAIL, subscriber_id=7, email="reader@example.com"
    )

    text = text_of(message)
    assert message["Subject"] == "You're already subscribed to Trending Papers"
    assert message["To"] == "reader@example.com"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = next(line for line in text.splitlines() if "/preferences?token=" in line)
    subject = read_token(settings.secret_key, Purpose.PREFERENCES, link.split("token=")[1])
    assert subject.subscriber_id == 7 and subject.matches("reader@example.com")
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "Change my preferences" in str(html.get_content())


def test_the_web_process_outbox_sends_both_kinds(
    sqlite_db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    active = add(sqlite_db, "active@example.com", SubscriberState.ACTIVE)
    pending = add(sqlite_db, "pending@example.com", SubscriberState.PENDING)
    queue_notice(sqlite_db, ALREADY_SUBSCRIBED_EMAIL, active.id)
    queue_notice(sqlite_db, CONFIRMATION_EMAIL, pending.id)
    outbox = LocalOutbox(sqlite_db, settings, interval=60.0)
    outbox.start()
    try:
        outbox.kick()
        notice = wait_for_mail(smtp_sink, "active@example.com")[0]
        confirm = wait_for_mail(smtp_sink, "pending@example.com")[0]
    finally:
        outbox.stop()
    assert "already subscribed" in notice["Subject"]
    assert "/confirm?token=" in text_of(confirm)


def test_already_subscribed_notice_is_not_sent_to_an_address_no_longer_active(
    sqlite_db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    gone = add(sqlite_db, "gone@example.com", SubscriberState.UNSUBSCRIBED)
    queue_notice(sqlite_db, ALREADY_SUBSCRIBED_EMAIL, gone.id)

    report = send_outbox(sqlite_db, settings)

    assert (report.sent, report.skipped) == ([], 1)
    assert smtp_sink.messages_to("gone@example.com") == []


def test_the_announcer_asks_for_the_outbox_task_and_falls_back_when_the_broker_is_down() -> None:
    from workers.dispatch import SEND_OUTBOX_TASK, CeleryAnnouncer

    sent: list[str] = []
    attempts: list[str] = []
    fallbacks: list[str] = []
    broker_up = True

    class FakeCelery:
        def send_task(self, name: str, retry: bool = True) -> None:
            attempts.append(name)
            assert retry is False  # a request never waits on publish retries
            if not broker_up:
                raise ConnectionError("broker down")
            sent.append(name)

    announcer = CeleryAnnouncer(FakeCelery(), fallback=lambda: fallbacks.append("local"))
    announcer.announce()
    broker_up = False
    announcer.announce()
    announcer.announce()  # soon after a failure: straight to the web process, no waiting

    assert sent == [SEND_OUTBOX_TASK]
    assert fallbacks == ["local", "local"]
    assert len(attempts) == 2
    # Imported here: importing the Celery app reads the environment's settings.
    import workers.tasks
    from workers.app import app

    assert workers.tasks.send_outbox_emails.name == SEND_OUTBOX_TASK
    assert SEND_OUTBOX_TASK in app.tasks


def test_a_kick_returns_at_once_even_when_the_broker_takes_seconds_to_refuse() -> None:
    import threading

    from workers.dispatch import celery_kick

    refused = threading.Event()
    fallbacks: list[str] = []

    class SlowDeadBroker:
        def send_task(self, name: str, retry: bool = True) -> None:
            time.sleep(2)
            refused.set()
            raise ConnectionError("broker down")

    kick = celery_kick(SlowDeadBroker(), fallback=lambda: fallbacks.append("local"))
    started = time.monotonic()
    kick()

    assert time.monotonic() - started < 0.5
    assert refused.wait(10)
    deadline = time.monotonic() + 5
    while not fallbacks and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fallbacks == ["local"]


def test_rate_page_refuses_other_tokens_and_editions_not_received(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings
) -> None:
    reader = add(sqlite_db, "rater@example.org", SubscriberState.ACTIVE)
    rate = SubscriberLinks.make(settings, reader.id, reader.email).rate(date(2026, 11, 24))
    path = rate.removeprefix(settings.base_url)

    nothing_sent = sqlite_client.get(path)
    assert nothing_sent.status_code == 404 and "No papers to rate here" in nothing_sent.text

    bad_day = sqlite_client.get(path.replace("2026-11-24", "2026-13-40"))
    assert bad_day.status_code == 404

    unsubscribe = links.unsubscribe_url(settings, reader.id, reader.email).split("token=")[1]
    wrong_token = sqlite_client.get(f"/rate?token={unsubscribe}&edition=2026-11-24")
    assert wrong_token.status_code == 400 and "This link does not work" in wrong_token.text
