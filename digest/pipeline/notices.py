"""How subscriber emails that are not digests are queued and sent.

Each kind is declared once, with its rules and its data, in digest.pipeline.emails (the
declaration: digest.pipeline.kinds); its templates are in templates/email/<kind>/. Every
subscriber email is a row of the outbox, written with the change that asks for it
(`queue_notice`, the store's lifecycle, or `queue_scheduled` for a kind beat sends on a
schedule), and `send_outbox` decides what each row becomes under its kind's rules, renders
it and sends it through the send engine (digest.pipeline.engine), from the Celery worker or
from the web process itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from functools import partial

from sqlalchemy.orm import Session

from digest.errors import DigestError
from digest.mail.envelope import envelope_for
from digest.pipeline import emails as _declared  # noqa: F401  (registers every kind)
from digest.pipeline.engine import Letter, Outcome, SendCounts, Unsent, send_batch
from digest.pipeline.kinds import (
    KINDS,
    EmailKind,
    Notice,
    Recipient,
    UnknownKind,
    answer_to_request,
    kind_named,
)
from digest.render.notices import render_notice
from digest.settings import EmailSettings, Settings
from digest.store.db import Database
from digest.store.outbox import (
    SUBSCRIBE_REQUEST,
    OutboxClaim,
    OutboxQueue,
    SentNotice,
    last_sent_at,
    queue_email,
    sent_since,
)
from digest.store.subscribers import (
    ANSWERS_REQUEST,
    locked_recipient,
    subscriber_for_request,
)
from digest.store.suppression import is_suppressed
from digest.store.types import utcnow

log = logging.getLogger(__name__)


def build_notice(kind: str, to: Recipient) -> Notice | None:
    """What the email of `kind` holds for this recipient, or None if nothing to send now."""
    return kind_named(kind).build(to)


def render_subscriber_email(
    settings: EmailSettings,
    kind: str,
    *,
    subscriber_id: int,
    email: str,
    request_id: int | None = None,
    session: Session | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """The email of `kind` for this subscriber, rendered and signed, not sent (a kind that
    reads the store needs `session`); LookupError if it has nothing to send."""
    to = Recipient(settings, subscriber_id, email, now or utcnow(), request_id, session)
    made = build_notice(kind, to)
    if made is None:
        raise LookupError(f"no {kind} email for subscriber {subscriber_id} now")
    return _render(to, kind, made)


def _render(to: Recipient, kind: str, made: Notice) -> EmailMessage:
    return render_notice(
        to.settings,
        kind,
        email=to.email,
        context=made.context,
        headers=made.headers,
        subscriber_id=to.subscriber_id,
    )


def queue_notice(db: Database, kind: str, subscriber_id: int, now: datetime | None = None) -> None:
    """Put an email of `kind` for the subscriber in the outbox (the CLI and tests; the web
    and the lifecycle queue theirs in the transaction of the change itself)."""
    kind_named(kind)
    with db.session() as session:
        queue_email(session, kind, now or utcnow(), subscriber_id=subscriber_id)


def queue_scheduled(
    db: Database, settings: Settings, kind: str, now: datetime | None = None
) -> int:
    """Queue an email of `kind` for each subscriber its audience query names who got none
    within its interval (what beat runs for a scheduled kind); how many were queued.
    Nothing while the kind is turned off."""
    wanted = kind_named(kind)
    if wanted.audience is None:
        raise UnknownKind(f"{kind} emails are not sent on a schedule")
    if not wanted.enabled(settings.email):
        return 0
    now = now or utcnow()
    with db.session() as session:
        recent = set() if wanted.every is None else sent_since(session, kind, now - wanted.every)
        due = [i for i in wanted.audience(session, now) if i not in recent]
        for subscriber_id in due:
            queue_email(session, kind, now, subscriber_id=subscriber_id)
    return len(due)


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
        suppressed, got one a moment ago, has nothing to be told)."""
        with self.db.session() as session:
            resolution = _resolve(session, self.settings, self.claim, now)
            claim = replace(self.claim, subscriber_id=resolution.subscriber_id)
            if resolution.kind is None or resolution.skip:
                return Unsent(claim, Outcome.SKIPPED, resolution.skip or "nothing to send")
            assert resolution.subscriber_id is not None and resolution.email is not None
            kind = resolution.kind
            to = Recipient(
                self.settings.email,
                resolution.subscriber_id,
                resolution.email,
                now,
                answered_request(self.claim),
                session,
            )
            made = kind.build(to)
        if made is None:
            return Unsent(claim, Outcome.EMPTY, f"no {kind.name} email to send")
        message = _render(to, kind.name, made)
        envelope = envelope_for(
            self.settings.email, message, subscriber_id=to.subscriber_id, address=to.email
        )
        mark = partial(SentNotice, claim, kind.name, str(message["Message-ID"]), kind.rated)
        return Letter(claim, message, envelope, mark)


def answered_request(claim: OutboxClaim) -> int | None:
    """The subscribe request an outbox row's email answers: the row itself for a request
    from the form, the one a resent confirmation names, else None."""
    if claim.kind == SUBSCRIBE_REQUEST:
        return claim.row_id
    named = claim.request.get(ANSWERS_REQUEST)
    return named if type(named) is int else None


@dataclass(frozen=True)
class Resolution:
    """What a queued request or email becomes when its sender gets to it."""

    subscriber_id: int | None
    email: str | None = None
    kind: EmailKind | None = None  # the email to send, or None with the reason in `skip`
    skip: str = ""


def _resolve(session: Session, settings: Settings, claim: OutboxClaim, now: datetime) -> Resolution:
    """Apply the kind's rules to one row, with its subscriber locked: the states it is
    for, whether it is on, how often it may go."""
    if claim.kind == SUBSCRIBE_REQUEST:
        assert claim.email is not None
        subscriber = subscriber_for_request(
            session,
            claim.email,
            claim.request,
            default_timezone=settings.default_timezone,
            default_send_hour=settings.default_send_hour,
            now=now,
        )
        if subscriber is None:
            return Resolution(None, skip="the address was deleted at its owner's request")
        kind = answer_to_request(subscriber.state)
        if kind is None:
            return Resolution(subscriber.id, skip=f"the address is {subscriber.state.value}")
    else:
        found = KINDS.get(claim.kind)
        if found is None:
            return Resolution(claim.subscriber_id, skip=f"no email kind {claim.kind!r}")
        assert claim.subscriber_id is not None
        subscriber = locked_recipient(session, claim.subscriber_id)
        if subscriber is None:
            return Resolution(None, skip="the subscriber is gone")
        if is_suppressed(session, subscriber.email):
            skip = "the address was deleted at its owner's request"
            return Resolution(subscriber.id, skip=skip)
        kind = found
    # A rated kind counts on the address's one clock; any other on its own sent rows.
    last = (
        subscriber.confirmation_sent_at
        if kind.rated
        else last_sent_at(session, subscriber.id, kind.name)
    )
    skip = kind.why_not(subscriber.state, settings.email, last, now)
    return Resolution(subscriber.id, subscriber.email, kind, skip)


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
