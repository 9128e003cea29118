"""The double opt-in email."""

from __future__ import annotations

import logging

from digest.mail.smtp import SmtpConfig, SmtpSender
from digest.render.digest import render_confirmation
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState

log = logging.getLogger(__name__)


def send_confirmation(db: Database, settings: Settings, subscriber_id: int) -> bool:
    """Email the confirmation link if the subscription is still pending; True if sent.

    Raises TemporaryFailure when the SMTP server is unreachable, so a task can retry.
    """
    with db.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None or subscriber.state != SubscriberState.PENDING:
            return False
        email = subscriber.email
    message = render_confirmation(settings, subscriber_id=subscriber_id, email=email)
    with SmtpSender(SmtpConfig.from_url(settings.smtp_url)) as sender:
        sender.send(message)
    log.info("confirmation sent to subscriber %d", subscriber_id)
    return True
