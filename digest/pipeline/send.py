"""Send a batch of a day's editions: pick, render, rate-limit, send, record each outcome."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import lru_cache

from digest.mail.envelope import Envelope, envelope_for
from digest.mail.outcomes import SendFailure, classify_send_failure
from digest.mail.ratelimit import SendLimiter, Unlimited, make_limiter
from digest.mail.senders import Sender, open_sender
from digest.papers import EditionEntry
from digest.pipeline.editions import pick_editions, profiles_of
from digest.pipeline.pool import DayPool, pool_by_id
from digest.preferences import Frequency
from digest.rank.personalize import SubscriberProfile
from digest.render.renderer import DigestRenderer
from digest.settings import DeliverySettings, Settings
from digest.store.db import Database
from digest.store.deliveries import Claim, Recorder, claim_batch
from digest.store.journal import SendJournal, SentMark
from digest.store.models import Subscriber
from digest.store.subscribers import mailable_subscribers
from digest.store.types import utcnow

log = logging.getLogger(__name__)
NOTHING_NEW = "no new paper qualified for this subscriber"
LEFT_BEFORE_SENDING = "the subscriber left before it was sent"


def shared_send_limiter(delivery: DeliverySettings) -> SendLimiter:
    """The send rate shared by every sender (kept in Redis), or no limit; one per process."""
    return _limiter(delivery.rate_limit_redis_url, delivery.rate_per_second)


@lru_cache(maxsize=4)
def _limiter(redis_url: str, per_second: float) -> SendLimiter:
    return make_limiter(redis_url, per_second)


@dataclass
class SendCounts:
    """What one run did; `deferred` ones are retried by a later run."""

    due: int = 0
    sent: int = 0
    skipped: int = 0
    empty: int = 0
    deferred: int = 0
    failed: int = 0
    bounced: int = 0
    taken_over: int = 0  # claimed by another sender after this one's lease ran out
    errors: list[str] = field(default_factory=list)

    def add(self, other: SendCounts) -> None:
        for name in (
            "due",
            "sent",
            "skipped",
            "empty",
            "deferred",
            "failed",
            "bounced",
            "taken_over",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


def _active_profiles(
    db: Database, pool: DayPool, claims: Sequence[Claim]
) -> dict[int, tuple[Subscriber, SubscriberProfile]]:
    """Profiles of the claimed subscribers who may still be mailed (active, not
    suppressed), by subscriber id."""
    with db.session() as session:
        subscribers = mailable_subscribers(session, [claim.subscriber_id for claim in claims])
        profiles = profiles_of(session, subscribers, pool)
        session.expunge_all()
    return {s.id: (s, p) for s, p in zip(subscribers, profiles, strict=True)}


Clock = Callable[[], datetime]


def send_batch(
    db: Database,
    settings: Settings,
    pool_id: int,
    *,
    clock: Clock = utcnow,
    limiter: SendLimiter | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> SendCounts:
    """Claim one batch of the pool's queued deliveries and send it over one connection.

    Every lease, mark and retry is timed by `clock` when it happens, never by the moment a
    run started. Returns the counts; `due == 0` means there was nothing left to claim.
    """
    delivery = settings.delivery
    journal = SendJournal(delivery.journal_path)
    journal.replay(db)  # marks a database outage kept from an earlier batch come first
    claims = claim_batch(db, pool_id, clock(), delivery.batch_size, delivery.lease_seconds)
    counts = SendCounts(due=len(claims))
    if not claims:
        return counts
    with Recorder.open(db, journal) as recorder:
        lease = HeldLease(recorder, claims[0].token, delivery.lease_seconds, clock)
        _send_claims(db, settings, pool_id, claims, lease, limiter, on_progress, counts)
    return counts


class HeldLease:
    """The lease on one batch's rows, renewed while the sender works through them.

    A claim is leased for `seconds`; once a third of that has passed since the claim or the
    last renewal, every row still held is leased again, so a live sender's rows never
    become claimable by another sender however long the batch takes.
    """

    def __init__(self, recorder: Recorder, token: str, seconds: int, clock: Clock) -> None:
        self.recorder = recorder
        self.token = token
        self.seconds = seconds
        self.clock = clock
        self.renewed_at = clock()

    def keep(self) -> datetime:
        """The clock now, after renewing the lease if it is due."""
        now = self.clock()
        if now - self.renewed_at >= timedelta(seconds=self.seconds / 3):
            self.recorder.renew(self.token, now, self.seconds)
            self.renewed_at = now
        return now


def _send_claims(
    db: Database,
    settings: Settings,
    pool_id: int,
    claims: list[Claim],
    lease: HeldLease,
    limiter: SendLimiter | None,
    on_progress: Callable[[int], None] | None,
    counts: SendCounts,
) -> None:
    recorder = lease.recorder
    pool = pool_by_id(db, pool_id, settings.ranking)
    if pool is None:
        for claim in claims:
            recorder.failed(claim, "the edition has no papers", lease.keep())
        counts.failed = len(claims)
        return
    people = _active_profiles(db, pool, claims)
    ordered = [claim for claim in claims if claim.subscriber_id in people]
    for claim in claims:
        if claim.subscriber_id not in people:
            recorder.skipped(claim, LEFT_BEFORE_SENDING, lease.keep())
            counts.skipped += 1
    editions = pick_editions(pool, [people[c.subscriber_id][1] for c in ordered], settings.ranking)
    renderers = Renderers(settings, pool)
    delivery = settings.delivery
    pace = limiter or Unlimited()
    # A shared send rate makes each message wait its turn: marks are then written one by
    # one, so a wait never holds an accepted message unrecorded.
    window = delivery.send_window if isinstance(pace, Unlimited) else 1
    sends = [
        Send(
            claim,
            people[claim.subscriber_id][0],
            entries,
            renderers.of(people[claim.subscriber_id][0]),
        )
        for claim, entries in zip(ordered, editions, strict=True)
    ]
    marks = PendingMarks(recorder)
    with open_sender(delivery.smtp_url) as sender, marks:
        for start in range(0, len(sends), window):
            ready: list[Ready] = []
            for send in sends[start : start + window]:
                prepared = _prepare(recorder, send, lease.keep())
                if isinstance(prepared, Ready):
                    ready.append(prepared)
                else:
                    _tally(counts, prepared, on_progress)
            if not isinstance(pace, Unlimited):
                marks.flush()
            allowed = marks.begin([item.send.claim for item in ready], lease.keep())
            for position, item in enumerate(ready):
                if item.send.claim.delivery_id not in allowed:
                    # Checked right before sending: an unsubscribe that lands mid-batch counts,
                    # and a row another sender took over is left to it.
                    if recorder.skipped(item.send.claim, LEFT_BEFORE_SENDING, lease.clock()):
                        _tally(counts, (Outcome.LEFT, None), on_progress)
                    else:
                        _tally(counts, (Outcome.TAKEN_OVER, None), on_progress)
                    continue
                result = _deliver(delivery, sender, recorder, marks, pace, item, lease.clock)
                _tally(counts, result, on_progress)
                if result[0] is Outcome.UNREACHABLE:
                    # The server is down: put the rest back for a later run instead of timing
                    # out on each of them.
                    rest = [r.send.claim for r in ready[position + 1 :]]
                    rest += [later.claim for later in sends[start + window :]]
                    for claim in rest:
                        recorder.defer_or_give_up(
                            claim, "SMTP server unreachable", lease.clock(), delivery
                        )
                        counts.deferred += 1
                    return


def _tally(
    counts: SendCounts,
    result: tuple[Outcome, str | None],
    on_progress: Callable[[int], None] | None,
) -> None:
    outcome, detail = result
    _count(counts, outcome)
    if detail:
        counts.errors.append(detail)
    if on_progress is not None:
        on_progress(1)


class PendingMarks:
    """The marks of the messages the server accepted in this window, written together with
    the next window's `begin_sending` (one commit a window), or alone when the batch ends.

    Either way they are written before another message goes out, so what may be in flight
    unrecorded when a sender dies is at most one window (DIGEST_SEND_WINDOW messages).
    """

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._held: list[SentMark] = []

    def hold(
        self, claim: Claim, message_id: str, entries: list[EditionEntry], now: datetime
    ) -> None:
        self._held.append(
            SentMark(
                claim.delivery_id,
                message_id,
                now.isoformat(),
                [(e.paper_id, e.rank, e.why) for e in entries],
            )
        )

    def begin(self, claims: list[Claim], now: datetime) -> set[int]:
        """Write the held marks and note `claims` in flight; the ids that may be sent (still
        this sender's, subscriber still active)."""
        held, self._held = self._held, []
        if not held and not claims:
            return set()
        return self.recorder.settle_and_begin(held, claims, now)

    def flush(self) -> None:
        held, self._held = self._held, []
        if held:
            self.recorder.settle_and_begin(held, [], datetime.fromisoformat(held[0].finished_at))

    def __enter__(self) -> PendingMarks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


@dataclass(frozen=True)
class Send:
    """One message to send: the claim, its subscriber, their papers, the renderer."""

    claim: Claim
    subscriber: Subscriber
    entries: list[EditionEntry]
    renderer: DigestRenderer


class Renderers:
    """The DigestRenderers of a pool (daily, weekly), kept with the cached pool so their
    inlined fragments are reused by every batch this process sends."""

    def __init__(self, settings: Settings, pool: DayPool) -> None:
        self.email = settings.email
        self.pool = pool

    def of(self, subscriber: Subscriber) -> DigestRenderer:
        weekly = subscriber.frequency == Frequency.WEEKLY
        key = (weekly, self.email)
        made: DigestRenderer | None = self.pool.renderers.get(key)
        if made is None:
            made = DigestRenderer(
                self.email, self.pool.day, weekly=weekly, sample=self.pool.is_sample
            )
            self.pool.renderers[key] = made
        return made


class Outcome(enum.Enum):
    SENT = "sent"
    EMPTY = "empty"
    LEFT = "left"
    DEFERRED = "deferred"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    BOUNCED = "bounced"
    TAKEN_OVER = "taken over"  # another sender claimed the row after this one's lease ran out


def _count(counts: SendCounts, outcome: Outcome) -> None:
    match outcome:
        case Outcome.SENT:
            counts.sent += 1
        case Outcome.EMPTY:
            counts.empty += 1
        case Outcome.LEFT:
            counts.skipped += 1
        case Outcome.DEFERRED | Outcome.UNREACHABLE:
            counts.deferred += 1
        case Outcome.FAILED:
            counts.failed += 1
        case Outcome.BOUNCED:
            counts.bounced += 1
        case Outcome.TAKEN_OVER:
            counts.taken_over += 1


@dataclass(frozen=True)
class Ready:
    """A rendered message with its envelope, waiting for its turn."""

    send: Send
    message: EmailMessage | bytes
    message_id: str
    envelope: Envelope


def _prepare(recorder: Recorder, send: Send, now: datetime) -> Ready | tuple[Outcome, str | None]:
    """Render one subscriber's digest, or record why there is nothing to send."""
    claim, subscriber = send.claim, send.subscriber
    if not send.entries:
        recorder.skipped(claim, NOTHING_NEW, now)
        return Outcome.EMPTY, None
    try:
        message, message_id = _render(send)
        envelope = envelope_for(
            send.renderer.settings, message, subscriber_id=subscriber.id, address=subscriber.email
        )
    except Exception as exc:  # e.g. a value the email policy cannot encode safely
        reason = f"could not render ({type(exc).__name__}): {exc}"
        recorder.failed(claim, reason, now)
        log.error("subscriber %d: %s", subscriber.id, reason)
        return Outcome.FAILED, reason
    return Ready(send, message, message_id, envelope)


def _deliver(
    delivery: DeliverySettings,
    sender: Sender,
    recorder: Recorder,
    marks: PendingMarks,
    limiter: SendLimiter,
    item: Ready,
    clock: Clock,
) -> tuple[Outcome, str | None]:
    """Hand one rendered message to the server; the outcome and what went wrong."""
    claim, subscriber = item.send.claim, item.send.subscriber
    limiter.acquire()
    try:
        sender.send(item.message, item.envelope)
    except Exception as exc:
        return _record_failure(delivery, recorder, claim, subscriber.id, exc, clock())
    # The window for a duplicate: the server has the message, the row is not yet 'sent'
    # (until the next window's begin, or the end of the batch, writes the mark).
    marks.hold(claim, item.message_id, item.send.entries, clock())
    return Outcome.SENT, None


def _record_failure(
    delivery: DeliverySettings,
    recorder: Recorder,
    claim: Claim,
    subscriber_id: int,
    error: Exception,
    now: datetime,
) -> tuple[Outcome, str | None]:
    """Record why the server did not take a message; what a failure means is decided in
    one place for every kind of email (digest.mail.outcomes)."""
    match classify_send_failure(error):
        case SendFailure.BOUNCED:
            recorder.bounced(claim, str(error), now)
            log.warning("subscriber %d refused permanently: %s", subscriber_id, error)
            return Outcome.BOUNCED, str(error)
        case SendFailure.UNREACHABLE:
            recorder.defer_or_give_up(claim, str(error), now, delivery)
            log.warning("SMTP server unreachable: %s", error)
            return Outcome.UNREACHABLE, str(error)
        case SendFailure.RETRY:
            deferred = recorder.defer_or_give_up(claim, str(error), now, delivery)
            log.warning(
                "subscriber %d %s: %s", subscriber_id, "deferred" if deferred else "failed", error
            )
            return (Outcome.DEFERRED if deferred else Outcome.FAILED), str(error)
    # One message that cannot be sent must not stop the batch or leave it claimed.
    # Failed, not retried: the server may have taken it, and a second copy is worse.
    reason = f"not sent ({type(error).__name__}): {error}"
    recorder.failed(claim, reason, now)
    log.error("subscriber %d: digest not sent (%s)", subscriber_id, type(error).__name__)
    return Outcome.FAILED, reason


def _render(send: Send) -> tuple[EmailMessage | bytes, str]:
    """The message to send and its Message-ID: bytes written straight from the renderer's
    cached fragments, or an EmailMessage for an address that needs SMTPUTF8."""
    subscriber = send.subscriber
    if subscriber.email.isascii():
        wire = send.renderer.render_wire(
            subscriber_id=subscriber.id, email=subscriber.email, entries=send.entries
        )
        return wire.data, wire.message_id
    message = send.renderer.render(
        subscriber_id=subscriber.id, email=subscriber.email, entries=send.entries
    )
    return message, str(message["Message-ID"])
