"""Subscriber emails that are not digests: one function per kind, and how they are sent.

A kind is a function decorated with `@notice(kind, for_states=...)` that returns its
template context (and any extra headers), plus its templates in templates/email/<kind>/
(`subject.txt`, `body.txt`, `body.html` on the shared `email/base.html`). Nothing else needs
to know about it: every subscriber email is a row of the outbox, written with the change
that asks for it (`queue_notice`, or the store's lifecycle), and `send_outbox` renders and
sends any registered kind through the send engine (digest.pipeline.engine), from the Celery
worker or from the web process itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from functools import partial
from typing import Any, Protocol

from sqlalchemy.orm import Session

from digest import links
from digest.errors import DigestError
from digest.mail.envelope import envelope_for
from digest.pipeline.engine import Letter, Outcome, SendCounts, Unsent, send_batch
from digest.render.notices import render_notice
from digest.settings import EmailSettings, Settings
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from digest.store.outbox import (
    SUBSCRIBE_REQUEST,
    OutboxClaim,
    OutboxQueue,
    SentNotice,
    queue_email,
)
from digest.store.subscribers import (
    ALREADY_SUBSCRIBED_EMAIL,
    ANSWERS_REQUEST,
    CONFIRMATION_EMAIL,
    NOTICES_RATED,
    Resolution,
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

    def add(self, counts: SendCounts) -> None:
        self.skipped += counts.skipped + counts.empty
        self.deferred += counts.deferred
        self.failed += counts.failed
        self.bounced += counts.bounced


OUTBOX_BATCH_SIZE = 50
OUTBOX_MAX_BATCHES = 100


def send_outbox(db: Database, settings: Settings, now: datetime | None = None) -> OutboxReport:
    """Send what the outbox holds that is due, a claimed batch at a time, until it is empty.

    Safe to run in several processes at once: each row is claimed with a lease. With `now`,
    every step is timed by it instead of the clock.
    """
    report = OutboxReport()
    queue = OutboxQueue(db)
    notices = Notices(db, settings)

    def sent(mark: SentNotice) -> None:
        assert mark.claim.subscriber_id is not None
        report.sent.append((mark.kind, mark.claim.subscriber_id))

    for _ in range(OUTBOX_MAX_BATCHES):
        counts = send_batch(
            queue,
            notices,
            settings.delivery,
            clock=utcnow if now is None else lambda: now,
            on_sent=sent,
        )
        report.add(counts)
        if counts.due == 0 or counts.server_down:
            break
    return report


class Notices:
    """Subscriber emails as a kind for the send engine: each outbox row resolved (what, if
    anything, it becomes) and rendered when its turn comes, one at a time."""

    batch_size = OUTBOX_BATCH_SIZE
    window = 1
    # The resend rule of a confirmation reads when the last one was accepted: each mark is
    # written before the next row is resolved.
    marks_at_once = True

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings

    def prepare(self, claims: Sequence[OutboxClaim], now: datetime) -> list[NoticeDraft]:
        return [NoticeDraft(self.db, self.settings, claim) for claim in claims]


@dataclass(frozen=True)
class NoticeDraft:
    db: Database
    settings: Settings
    claim: OutboxClaim

    def compose(self, now: datetime) -> Letter[OutboxClaim, SentNotice] | Unsent[OutboxClaim]:
        """The email this row asks for now, or why there is none (the subscriber left, is
        suppressed, got one a moment ago)."""
        with self.db.session() as session:
            resolution = _resolve(session, self.settings, self.claim, now)
            claim = replace(self.claim, subscriber_id=resolution.subscriber_id)
            if resolution.kind is None or resolution.skip:
                return Unsent(claim, Outcome.SKIPPED, resolution.skip or "nothing to send")
            assert resolution.subscriber_id is not None
            email = session.get_one(Subscriber, resolution.subscriber_id).email
        kind = resolution.kind
        message = render_subscriber_email(
            self.settings.email,
            kind,
            subscriber_id=resolution.subscriber_id,
            email=email,
            request_id=answered_request(self.claim),
        )
        envelope = envelope_for(
            self.settings.email, message, subscriber_id=resolution.subscriber_id, address=email
        )
        mark = partial(SentNotice, claim, kind, str(message["Message-ID"]), kind in NOTICES_RATED)
        return Letter(claim, message, envelope, mark)


def answered_request(claim: OutboxClaim) -> int | None:
    """The subscribe request an outbox row's email answers: the row itself for a request
    from the form, the one a resent confirmation names, else None."""
    if claim.kind == SUBSCRIBE_REQUEST:
        return claim.row_id
    named = claim.request.get(ANSWERS_REQUEST)
    return named if type(named) is int else None


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
