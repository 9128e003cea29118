"""Subscriber emails that are not digests: one function per kind, and how they are sent.

A kind is a function decorated with `@notice(kind, for_states=...)` that returns its
template context (and any extra headers), plus its templates in templates/email/<kind>/
(`subject.txt`, `body.txt`, `body.html` on the shared `email/base.html`). Nothing else needs
to know about it: every subscriber email is a row of the outbox, written with the change
that asks for it (`queue_notice`, or the store's lifecycle), and `send_outbox` renders and
sends any registered kind, from the Celery worker or from the web process itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Protocol

from sqlalchemy.orm import Session

from digest import links
from digest.errors import DigestError
from digest.mail.envelope import envelope_for
from digest.mail.outcomes import SendFailure, classify_send_failure
from digest.mail.senders import Sender, open_sender
from digest.render.notices import render_notice
from digest.settings import EmailSettings, Settings
from digest.store.bounces import bounced_while_sending
from digest.store.db import Database, through_outages
from digest.store.models import OutboxStatus, Subscriber, SubscriberState
from digest.store.outbox import (
    SUBSCRIBE_REQUEST,
    OutboxClaim,
    claim_outbox,
    defer_or_give_up,
    finish_outbox,
    queue_email,
)
from digest.store.subscribers import (
    ALREADY_SUBSCRIBED_EMAIL,
    ANSWERS_REQUEST,
    CONFIRMATION_EMAIL,
    Resolution,
    notice_sent,
    resolve_notice,
    resolve_request,
)
from digest.store.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """What one kind puts into its templates, and headers beyond the usual ones."""

    context: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


class NoticeBuilder(Protocol):
    """Builds one kind's Notice for a subscriber; `request_id` is the subscribe request the
    email answers, if any (a confirmation's link names it)."""

    def __call__(
        self,
        settings: EmailSettings,
        subscriber_id: int,
        email: str,
        request_id: int | None = None,
        /,
    ) -> Notice: ...


@dataclass(frozen=True)
class NoticeKind:
    name: str
    for_states: tuple[SubscriberState, ...]  # sent only while the subscriber is in one
    build: NoticeBuilder


NOTICES: dict[str, NoticeKind] = {}


class UnknownNotice(LookupError):
    """No email kind of that name is registered."""


def notice(
    name: str, *, for_states: tuple[SubscriberState, ...]
) -> Callable[[NoticeBuilder], NoticeBuilder]:
    """Register the decorated function as the email kind `name`."""

    def register(build: NoticeBuilder) -> NoticeBuilder:
        NOTICES[name] = NoticeKind(name, for_states, build)
        return build

    return register


# Unsubscribed too: a person who left and asks to come back confirms like a new one.
@notice(CONFIRMATION_EMAIL, for_states=(SubscriberState.PENDING, SubscriberState.UNSUBSCRIBED))
def confirmation(
    settings: EmailSettings, subscriber_id: int, email: str, request_id: int | None = None
) -> Notice:
    """The double opt-in email: one link that activates the subscription with the
    preferences of the request it answers (a later request's link carries its own)."""
    return Notice(
        {
            "confirm_url": links.confirm_url(settings, subscriber_id, email, request_id),
            "expires_hours": settings.confirm_max_age_hours,
        }
    )


@notice(ALREADY_SUBSCRIBED_EMAIL, for_states=(SubscriberState.ACTIVE,))
def already_subscribed(
    settings: EmailSettings, subscriber_id: int, email: str, request_id: int | None = None
) -> Notice:
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
    settings: EmailSettings,
    kind: str,
    *,
    subscriber_id: int,
    email: str,
    request_id: int | None = None,
) -> EmailMessage:
    """The email of `kind` for this subscriber, rendered and signed, not sent."""
    made = notice_kind(kind).build(settings, subscriber_id, email, request_id)
    return render_notice(
        settings,
        kind,
        email=email,
        context=made.context,
        headers=made.headers,
        subscriber_id=subscriber_id,
    )


def queue_notice(db: Database, kind: str, subscriber_id: int, now: datetime | None = None) -> None:
    """Put an email of `kind` for the subscriber in the outbox (the CLI and tests; the web
    and the lifecycle queue theirs in the transaction of the change itself)."""
    notice_kind(kind)
    with db.session() as session:
        queue_email(session, kind, now or utcnow(), subscriber_id=subscriber_id)


@dataclass
class OutboxReport:
    """What one run of `send_outbox` did; `sent` lists (kind, subscriber id)."""

    sent: list[tuple[str, int]] = field(default_factory=list)
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    bounced: int = 0  # refused for good: the address is suppressed, as for a digest

    @property
    def handled(self) -> int:
        return len(self.sent) + self.skipped + self.deferred + self.failed + self.bounced


def send_outbox(
    db: Database,
    settings: Settings,
    now: datetime | None = None,
    *,
    sender: Sender | None = None,
    batch_size: int = 50,
    max_batches: int = 100,
) -> OutboxReport:
    """Send what the outbox holds that is due, a claimed batch at a time, until it is empty.

    Safe to run in several processes at once: each row is claimed with a lease.
    """
    report = OutboxReport()
    delivery = settings.delivery
    for _ in range(max_batches):
        moment = now or utcnow()
        claims = claim_outbox(db, moment, batch_size, delivery.lease_seconds)
        if not claims:
            break
        # A sender handed in is the caller's to close; one opened here is closed here.
        with nullcontext(sender) if sender is not None else open_sender(delivery.smtp_url) as out:
            for position, claim in enumerate(claims):
                if not _send_claim(db, settings, claim, out, moment, report):
                    # The server is down: put the rest back instead of timing out on each.
                    with db.session() as session:
                        for rest in claims[position + 1 :]:
                            defer_or_give_up(
                                session, rest, "SMTP server unreachable", moment, delivery
                            )
                            report.deferred += 1
                    return report
    return report


def _send_claim(
    db: Database,
    settings: Settings,
    claim: OutboxClaim,
    out: Sender,
    now: datetime,
    report: OutboxReport,
) -> bool:
    """Resolve, render, send and record one row; False if the SMTP server is unreachable."""
    with db.session() as session:
        resolution = _resolve(session, settings, claim, now)
        if resolution.kind is None or resolution.skip:
            finish_outbox(
                session,
                claim,
                OutboxStatus.SKIPPED,
                now,
                error=resolution.skip or "nothing to send",
                subscriber_id=resolution.subscriber_id,
            )
            report.skipped += 1
            return True
        assert resolution.subscriber_id is not None
        subscriber_id, kind = resolution.subscriber_id, resolution.kind
        email = session.get_one(Subscriber, subscriber_id).email
    try:
        message = render_subscriber_email(
            settings.email,
            kind,
            subscriber_id=subscriber_id,
            email=email,
            request_id=answered_request(claim),
        )
        envelope = envelope_for(settings.email, message, subscriber_id=subscriber_id, address=email)
        out.send(message, envelope)
    except Exception as exc:  # a refusal, an outage, a value it cannot encode: this email only
        failure = classify_send_failure(exc)
        _record_failure(db, settings, claim, subscriber_id, failure, exc, now, report)
        log.warning("%s email for subscriber %d: %s (%s)", kind, subscriber_id,
                    failure.value, exc)  # fmt: skip
        return failure is not SendFailure.UNREACHABLE
    message_id = str(message["Message-ID"])

    # The one window for a duplicate: the server has it, the row is not yet 'sent'. A
    # dropped database connection does not widen it: the (idempotent) mark is retried.
    def mark_sent() -> None:
        with db.session() as session:
            finish_outbox(
                session,
                claim,
                OutboxStatus.SENT,
                now,
                subscriber_id=subscriber_id,
                message_id=message_id,
            )
            notice_sent(session, subscriber_id, kind, now)

    through_outages(mark_sent)
    log.info("%s email sent to subscriber %d", kind, subscriber_id)
    report.sent.append((kind, subscriber_id))
    return True


def answered_request(claim: OutboxClaim) -> int | None:
    """The subscribe request an outbox row's email answers: the row itself for a request
    from the form, the one a resent confirmation names, else None."""
    if claim.kind == SUBSCRIBE_REQUEST:
        return claim.row_id
    named = claim.request.get(ANSWERS_REQUEST)
    return named if type(named) is int else None


def _record_failure(
    db: Database,
    settings: Settings,
    claim: OutboxClaim,
    subscriber_id: int,
    failure: SendFailure,
    exc: Exception,
    now: datetime,
    report: OutboxReport,
) -> None:
    """Record what the failure means (digest.mail.outcomes), as the digest sender does."""
    with db.session() as session:
        match failure:
            case SendFailure.BOUNCED:
                finish_outbox(
                    session,
                    claim,
                    OutboxStatus.BOUNCED,
                    now,
                    error=str(exc),
                    subscriber_id=subscriber_id,
                )
                bounced_while_sending(session, subscriber_id, str(exc), now)
                report.bounced += 1
            case SendFailure.RETRY | SendFailure.UNREACHABLE:
                if defer_or_give_up(session, claim, str(exc), now, settings.delivery):
                    report.deferred += 1
                else:
                    report.failed += 1
            case SendFailure.FAILED:
                finish_outbox(
                    session,
                    claim,
                    OutboxStatus.FAILED,
                    now,
                    error=str(exc),
                    subscriber_id=subscriber_id,
                )
                report.failed += 1


def _resolve(session: Session, settings: Settings, claim: OutboxClaim, now: datetime) -> Resolution:
    if claim.kind == SUBSCRIBE_REQUEST:
        assert claim.email is not None
        return resolve_request(
            session,
            claim.email,
            claim.request,
            default_timezone=settings.default_timezone,
            default_send_hour=settings.default_send_hour,
            now=now,
        )
    wanted = NOTICES.get(claim.kind)
    if wanted is None:
        return Resolution(claim.subscriber_id, None, f"no email kind {claim.kind!r}")
    assert claim.subscriber_id is not None
    return resolve_notice(session, claim.subscriber_id, claim.kind, wanted.for_states, now)


Kick = Callable[[], None]
"""Says "the outbox has something": called after the commit that queued it."""


class LocalOutbox:
    """Sends the outbox from this process: soon after each kick, and every `interval`
    seconds for retries and for rows a lost task or a dead sender left behind."""

    def __init__(self, db: Database, settings: Settings, interval: float) -> None:
        self.db, self.settings, self.interval = db, settings, interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def kick(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                send_outbox(self.db, self.settings)
            except DigestError as exc:
                log.warning("outbox not sent: %s", exc)
            except Exception:  # the sweeper must outlive any one failure; the next run retries
                log.exception("outbox sender failed")
