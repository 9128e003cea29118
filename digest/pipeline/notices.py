"""Emails the subscribe form asks for, sent by a worker: confirmation or "already subscribed"."""

from __future__ import annotations

import logging
from collections.abc import Callable
from email.message import EmailMessage

from digest.mail.smtp import SmtpConfig, SmtpSender
from digest.render.digest import render_confirmation
from digest.render.notices import render_already_subscribed
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from digest.store.subscribers import EmailToSend

log = logging.getLogger(__name__)

Renderer = Callable[..., EmailMessage]

# Each kind: the state the subscriber must still be in, and how the email is made.
NOTICES: dict[EmailToSend, tuple[SubscriberState, Renderer]] = {
    EmailToSend.CONFIRMATION: (SubscriberState.PENDING, render_confirmation),
    EmailToSend.ALREADY_SUBSCRIBED: (SubscriberState.ACTIVE, render_already_subscribed),
}


def send_subscriber_email(
    db: Database, settings: Settings, kind: EmailToSend, subscriber_id: int
) -> bool:
    """Send the email of `kind` if the subscriber is still in the state it is for.

    True if sent. Raises TemporaryFailure when the SMTP server is unreachable, so a task
    can retry.
    """
    wanted_state, render = NOTICES[kind]
    with db.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None or subscriber.state != wanted_state:
            return False
        email = subscriber.email
    message = render(settings, subscriber_id=subscriber_id, email=email)
    with SmtpSender(SmtpConfig.from_url(settings.smtp_url)) as sender:
        sender.send(message)
    log.info("%s email sent to subscriber %d", kind.value, subscriber_id)
    return True


def send_confirmation(db: Database, settings: Settings, subscriber_id: int) -> bool:
    """The double opt-in email, while the subscription is pending."""
    return send_subscriber_email(db, settings, EmailToSend.CONFIRMATION, subscriber_id)


def send_already_subscribed(db: Database, settings: Settings, subscriber_id: int) -> bool:
    """An active subscriber's preferences link, when they subscribe again."""
    return send_subscriber_email(db, settings, EmailToSend.ALREADY_SUBSCRIBED, subscriber_id)
