"""The emails the subscribe form asks for, sent through the dispatchers to a real SMTP server."""

from __future__ import annotations

import time
from email.message import EmailMessage

from digest.pipeline.notices import inline_dispatcher, render_subscriber_email, send_notice
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.store.subscribers import ALREADY_SUBSCRIBED_EMAIL, CONFIRMATION_EMAIL
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


def test_inline_dispatcher_sends_both_kinds(
    sqlite_db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    active = add(sqlite_db, "active@example.com", SubscriberState.ACTIVE)
    pending = add(sqlite_db, "pending@example.com", SubscriberState.PENDING)
    dispatch = inline_dispatcher(sqlite_db, settings)

    dispatch(ALREADY_SUBSCRIBED_EMAIL, active.id)
    dispatch(CONFIRMATION_EMAIL, pending.id)

    notice = wait_for_mail(smtp_sink, "active@example.com")[0]
    confirm = wait_for_mail(smtp_sink, "pending@example.com")[0]
    assert "already subscribed" in notice["Subject"]
    assert "/confirm?token=" in text_of(confirm)


def test_already_subscribed_notice_is_not_sent_to_an_address_no_longer_active(
    sqlite_db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    gone = add(sqlite_db, "gone@example.com", SubscriberState.UNSUBSCRIBED)

    assert send_notice(sqlite_db, settings, ALREADY_SUBSCRIBED_EMAIL, gone.id) is False
    assert smtp_sink.messages_to("gone@example.com") == []


def test_celery_dispatcher_hands_kind_and_id_to_the_matching_task() -> None:
    from workers.dispatch import SEND_NOTICE_TASK, celery_dispatcher

    sent: list[tuple[str, list[object]]] = []

    class FakeCelery:
        def send_task(self, name: str, args: list[object]) -> None:
            sent.append((name, args))

    dispatch = celery_dispatcher(FakeCelery())
    dispatch(CONFIRMATION_EMAIL, 3)
    dispatch(ALREADY_SUBSCRIBED_EMAIL, 4)

    assert sent == [
        (SEND_NOTICE_TASK, [CONFIRMATION_EMAIL, 3]),
        (SEND_NOTICE_TASK, [ALREADY_SUBSCRIBED_EMAIL, 4]),
    ]
    # Imported here: importing the Celery app reads the environment's settings.
    import workers.tasks
    from workers.app import app

    assert workers.tasks.send_subscriber_email.name == SEND_NOTICE_TASK
    assert SEND_NOTICE_TASK in app.tasks
