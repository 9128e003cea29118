"""Emails the subscribe form asks for, sent by a worker: confirmation or "already subscribed"."""

from __future__ import annotations

import logging

from digest.mail.confirmations import send_confirmation
from digest.mail.smtp import SmtpConfig, SmtpSender
from digest.render.notices import render_already_subscribed
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from digest.store.subscribers import EmailToSend

log = logging.getLogger(__name__)


def send_already_subscribed(db: Database, settings: Settings, subscriber_id: int) -> bool:
    """Email an active subscriber their preferences link; True if sent.

    Raises TemporaryFailure when the SMTP server is unreachable, so a task can retry.
    """
    with db.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None or subscriber.state != SubscriberState.ACTIVE:
            return False
        email = subscriber.email
    message = render_already_subscribed(settings, subscriber_id=subscriber_id, email=email)
    with SmtpSender(SmtpConfig.from_url(settings.smtp_url)) as sender:
        sender.send(message)
    log.info("already-subscribed notice sent to subscriber %d", subscriber_id)
    return True


def send_subscriber_email(
    db: Database, settings: Settings, kind: EmailToSend, subscriber_id: int
) -> bool:
    """Send the email of `kind` the subscribe form asked for; True if sent."""
    if kind is EmailToSend.CONFIRMATION:
        return send_confirmation(db, settings, subscriber_id)
    return send_already_subscribed(db, settings, subscriber_id)
