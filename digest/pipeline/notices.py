"""Subscriber emails that are not digests: one function per kind, and how they are sent.

A kind is a function decorated with `@notice(kind, for_state=...)` that returns its
template context (and any extra headers), plus its templates in templates/email/<kind>/
(`subject.txt`, `body.txt`, `body.html` on the shared `email/base.html`). Nothing else needs
to know about it: `send_notice` renders and sends any registered kind, and the Celery task
and the web process's sender take the kind by name.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from digest import links
from digest.errors import SendError
from digest.mail.senders import Sender, open_sender
from digest.render.notices import render_notice
from digest.settings import EmailSettings, Settings
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from digest.store.subscribers import ALREADY_SUBSCRIBED_EMAIL, CONFIRMATION_EMAIL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """What one kind puts into its templates, and headers beyond the usual ones."""

    context: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


NoticeBuilder = Callable[[EmailSettings, int, str], Notice]


@dataclass(frozen=True)
class NoticeKind:
    name: str
    for_state: SubscriberState  # sent only while the subscriber is still in this state
    build: NoticeBuilder


NOTICES: dict[str, NoticeKind] = {}


class UnknownNotice(LookupError):
    """No email kind of that name is registered."""


def notice(name: str, *, for_state: SubscriberState) -> Callable[[NoticeBuilder], NoticeBuilder]:
    """Register the decorated function as the email kind `name`."""

    def register(build: NoticeBuilder) -> NoticeBuilder:
        NOTICES[name] = NoticeKind(name, for_state, build)
        return build

    return register


@notice(CONFIRMATION_EMAIL, for_state=SubscriberState.PENDING)
def confirmation(settings: EmailSettings, subscriber_id: int, email: str) -> Notice:
    """The double opt-in email: one link that activates the subscription."""
    return Notice(
        {
            "confirm_url": links.confirm_url(settings, subscriber_id, email),
            "expires_hours": settings.confirm_max_age_hours,
        }
    )


@notice(ALREADY_SUBSCRIBED_EMAIL, for_state=SubscriberState.ACTIVE)
def already_subscribed(settings: EmailSettings, subscriber_id: int, email: str) -> Notice:
    """Answer to the subscribe form for an active address: its preferences and unsubscribe
    links."""
    unsubscribe = links.unsubscribe_url(settings, subscriber_id, email)
    return Notice(
        {
            "preferences_url": links.preferences_url(settings, subscriber_id, email),
            "unsubscribe_url": unsubscribe,
        },
        headers={
            "List-Id": settings.list_id,
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def notice_kind(name: str) -> NoticeKind:
    try:
        return NOTICES[name]
    except KeyError:
        raise UnknownNotice(f"no email kind {name!r}: choose one of {sorted(NOTICES)}") from None


def render_subscriber_email(
    settings: EmailSettings, kind: str, *, subscriber_id: int, email: str
) -> EmailMessage:
    """The email of `kind` for this subscriber, rendered and signed, not sent."""
    made = notice_kind(kind).build(settings, subscriber_id, email)
    return render_notice(settings, kind, email=email, context=made.context, headers=made.headers)


def send_notice(
    db: Database,
    settings: Settings,
    kind: str,
    subscriber_id: int,
    sender: Sender | None = None,
) -> bool:
    """Send the email of `kind` if the subscriber is still in the state it is for.

    True if sent. Raises TemporaryFailure when the SMTP server is unreachable, so a task
    can retry.
    """
    wanted = notice_kind(kind)
    with db.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None or subscriber.state != wanted.for_state:
            return False
        email = subscriber.email
    message = render_subscriber_email(
        settings.email, kind, subscriber_id=subscriber_id, email=email
    )
    if sender is not None:
        sender.send(message)
    else:
        with open_sender(settings.smtp_url) as own:
            own.send(message)
    log.info("%s email sent to subscriber %d", kind, subscriber_id)
    return True


Dispatcher = Callable[[str, int], None]
"""Hands (kind, subscriber id) on to be sent, after the commit that asked for it."""


def inline_dispatcher(db: Database, settings: Settings) -> Dispatcher:
    """Without a broker: send from a background thread of this process."""

    def send(kind: str, subscriber_id: int) -> None:
        try:
            send_notice(db, settings, kind, subscriber_id)
        except SendError as exc:
            log.warning("%s email for subscriber %d not sent: %s", kind, subscriber_id, exc)

    def enqueue(kind: str, subscriber_id: int) -> None:
        notice_kind(kind)  # an unknown kind is the caller's bug: say so here, not in a thread
        threading.Thread(target=send, args=(kind, subscriber_id), daemon=True).start()

    return enqueue
