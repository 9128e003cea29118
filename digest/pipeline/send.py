"""Send a batch of a day's digests: each claimed subscriber's edition, picked from the pool
and rendered, through the send engine (digest.pipeline.engine)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from functools import lru_cache, partial

from digest.mail.envelope import envelope_for
from digest.mail.send_rate import SendLimiter, make_limiter
from digest.papers import EditionEntry
from digest.pipeline.editions import pick_editions, profiles_of
from digest.pipeline.engine import (
    LEFT_BEFORE_SENDING,
    Clock,
    Letter,
    Outcome,
    SendCounts,
    Unsent,
)
from digest.pipeline.engine import send_batch as send_through_engine
from digest.pipeline.pool import DayPool, pool_by_id
from digest.preferences import Frequency
from digest.rank.personalize import SubscriberProfile
from digest.render.renderer import DigestRenderer
from digest.settings import DeliverySettings, Settings
from digest.store.db import Database
from digest.store.deliveries import Claim, DeliveryQueue
from digest.store.journal import SendJournal, SentMark
from digest.store.models import Subscriber
from digest.store.subscribers import mailable_subscribers
from digest.store.types import utcnow

NOTHING_NEW = "no new paper qualified for this subscriber"


def shared_send_limiter(delivery: DeliverySettings) -> SendLimiter:
    """The send rate shared by every sender (kept in Redis), or no limit; one per process."""
    return _limiter(delivery.rate_limit_redis_url, delivery.rate_per_second)


@lru_cache(maxsize=4)
def _limiter(redis_url: str, per_second: float) -> SendLimiter:
    return make_limiter(redis_url, per_second)


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

    Returns the counts; `due == 0` means there was nothing left to claim.
    """
    delivery = settings.delivery
    queue = DeliveryQueue(db, pool_id, SendJournal(delivery.journal_path))
    return send_through_engine(
        queue,
        Digests(db, settings, pool_id),
        delivery,
        clock=clock,
        limiter=limiter,
        on_progress=on_progress,
    )


class Digests:
    """The digest as a kind of email: each claimed subscriber's edition of one pool."""

    marks_at_once = False

    def __init__(self, db: Database, settings: Settings, pool_id: int) -> None:
        self.db, self.settings, self.pool_id = db, settings, pool_id
        self.batch_size = settings.delivery.batch_size
        self.window = settings.delivery.send_window

    def prepare(self, claims: Sequence[Claim], now: datetime) -> list[Send | Unsent[Claim]]:
        """Each claim's edition, picked in one go for the batch; those who may no longer be
        mailed are skipped."""
        pool = pool_by_id(self.db, self.pool_id, self.settings.ranking)
        if pool is None:
            return [Unsent(claim, Outcome.FAILED, "the edition has no papers") for claim in claims]
        people = _active_profiles(self.db, pool, claims)
        left: list[Send | Unsent[Claim]] = [
            Unsent(claim, Outcome.SKIPPED, LEFT_BEFORE_SENDING)
            for claim in claims
            if claim.subscriber_id not in people
        ]
        ordered = [claim for claim in claims if claim.subscriber_id in people]
        editions = pick_editions(
            pool, [people[c.subscriber_id][1] for c in ordered], self.settings.ranking
        )
        renderers = Renderers(self.settings, pool)
        return left + [
            Send(claim, people[claim.subscriber_id][0], entries,
                 renderers.of(people[claim.subscriber_id][0]))
            for claim, entries in zip(ordered, editions, strict=True)
        ]  # fmt: skip


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


@dataclass(frozen=True)
class Send:
    """One subscriber's digest to compose: the claim, its subscriber, their papers, the
    renderer."""

    claim: Claim
    subscriber: Subscriber
    entries: list[EditionEntry]
    renderer: DigestRenderer

    def compose(self, now: datetime) -> Letter[Claim, SentMark] | Unsent[Claim]:
        """The rendered digest and its envelope, or nothing when no paper qualified."""
        if not self.entries:
            return Unsent(self.claim, Outcome.EMPTY, NOTHING_NEW)
        subscriber = self.subscriber
        message, message_id = self._render()
        envelope = envelope_for(
            self.renderer.settings, message, subscriber_id=subscriber.id, address=subscriber.email
        )
        papers: list[tuple[int, int, str | None]] = [
            (e.paper_id, e.rank, e.why) for e in self.entries
        ]
        mark = partial(_sent_mark, self.claim.row_id, message_id, papers)
        return Letter(self.claim, message, envelope, mark)

    def _render(self) -> tuple[EmailMessage | bytes, str]:
        """The message to send and its Message-ID: bytes written straight from the
        renderer's cached fragments, or an EmailMessage for an address that needs SMTPUTF8."""
        subscriber = self.subscriber
        if subscriber.email.isascii():
            wire = self.renderer.render_wire(
                subscriber_id=subscriber.id, email=subscriber.email, entries=self.entries
            )
            return wire.data, wire.message_id
        message = self.renderer.render(
            subscriber_id=subscriber.id, email=subscriber.email, entries=self.entries
        )
        return message, str(message["Message-ID"])


def _sent_mark(
    delivery_id: int, message_id: str, papers: list[tuple[int, int, str | None]], at: datetime
) -> SentMark:
    return SentMark(delivery_id, message_id, at.isoformat(), papers)


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
