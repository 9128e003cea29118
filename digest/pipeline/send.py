"""Send a batch of an edition: personalise, render, rate-limit, send, record each outcome."""

from __future__ import annotations

import enum
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from sqlalchemy import select

from digest.mail.ratelimit import SendLimiter, Unlimited
from digest.mail.smtp import (
    PermanentRejection,
    SmtpConfig,
    SmtpSender,
    TemporaryFailure,
    Unreachable,
)
from digest.papers import EditionEntry
from digest.pipeline.profiles import load_pool, load_profiles
from digest.rank.features import Follows
from digest.rank.personalize import BlendSettings, Pick, SubscriberProfile, personalize
from digest.rank.pool import CandidatePool
from digest.rank.trend import TrendWeights
from digest.rank.why import why_line
from digest.render.renderer import DigestRenderer
from digest.settings import Settings
from digest.store.db import Database
from digest.store.deliveries import Claim, Recorder, claim_batch
from digest.store.editions import build_edition, edition_entries
from digest.store.models import Edition, Frequency, Subscriber, SubscriberState
from digest.store.types import utcnow

log = logging.getLogger(__name__)
NOTHING_NEW = "no new paper qualified for this subscriber"
LEFT_BEFORE_SENDING = "the subscriber left before it was sent"
POOL_CACHE_SIZE = 4


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
    errors: list[str] = field(default_factory=list)

    def add(self, other: SendCounts) -> None:
        for name in ("due", "sent", "skipped", "empty", "deferred", "failed", "bounced"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class EditionContent:
    """An edition's frozen pool, ready to personalise; cached per worker process."""

    day: date
    edition_id: int
    pool: CandidatePool
    entries: list[EditionEntry]  # the pool's papers in trend order
    renderers: dict[tuple[bool, int], DigestRenderer] = field(default_factory=dict, compare=False)

    @property
    def is_sample(self) -> bool:
        return bool(self.entries) and all(e.source == "sample" for e in self.entries)


_editions: OrderedDict[tuple[str, int], EditionContent] = OrderedDict()


def load_edition(
    db: Database, settings: Settings, day: date, now: datetime
) -> EditionContent | None:
    """The frozen edition of `day`, built now if it does not exist; None if no papers."""
    with db.session() as session:
        edition = build_edition(
            session,
            day,
            size=settings.candidate_pool_size,
            window_days=settings.candidate_days,
            now=now,
            weights=TrendWeights.from_settings(settings),
            duplicate_similarity=settings.near_duplicate_similarity,
        )
        if edition is None:
            return None
        key = (db.instance, edition.id)
        cached = _editions.get(key)
        if cached is not None:
            _editions.move_to_end(key)
            return cached
        pool = load_pool(session, edition)
        if pool is None:
            return None
        content = EditionContent(day, edition.id, pool, edition_entries(session, edition))
    _remember(key, content)
    return content


def blend_settings(settings: Settings) -> BlendSettings:
    return BlendSettings(
        relevance_weight=settings.relevance_weight,
        feedback_weight=settings.feedback_weight,
        trending_slots=settings.trending_slots,
    )


def personal_entries(
    content: EditionContent,
    profiles: Sequence[SubscriberProfile],
    settings: Settings,
) -> list[list[EditionEntry]]:
    """Each profile's papers, ranked, each with its "why it's here" line."""
    blend = blend_settings(settings)
    all_picks = personalize(content.pool, profiles, blend)
    if not settings.skip_empty_days:
        fallback = [i for i, picks in enumerate(all_picks) if not picks and profiles[i].personal]
        trending_only = [
            replace(profiles[i], follows=Follows(), liked=(), disliked=()) for i in fallback
        ]
        for i, picks in zip(fallback, personalize(content.pool, trending_only, blend), strict=True):
            all_picks[i] = picks
    return [
        _entries(content, picks, profile, settings.trend_window_hours)
        for picks, profile in zip(all_picks, profiles, strict=True)
    ]


def _entries(
    content: EditionContent, picks: list[Pick], profile: SubscriberProfile, window: float
) -> list[EditionEntry]:
    return [
        replace(
            content.entries[pick.pool_index],
            rank=rank,
            score=pick.score,
            why=why_line(content.pool, pick, profile, window),
        )
        for rank, pick in enumerate(picks, start=1)
    ]


def load_edition_by_id(db: Database, edition_id: int) -> EditionContent | None:
    """A stored edition's content (cached per worker process); None if it is gone."""
    key = (db.instance, edition_id)
    cached = _editions.get(key)
    if cached is not None:
        _editions.move_to_end(key)
        return cached
    with db.session() as session:
        edition = session.get(Edition, edition_id)
        if edition is None:
            return None
        pool = load_pool(session, edition)
        if pool is None:
            return None
        content = EditionContent(edition.date, edition.id, pool, edition_entries(session, edition))
    _remember(key, content)
    return content


def _remember(key: tuple[str, int], content: EditionContent) -> None:
    _editions[key] = content
    while len(_editions) > POOL_CACHE_SIZE:
        _editions.popitem(last=False)


def _profiles_for(
    db: Database, content: EditionContent, claims: Sequence[Claim]
) -> dict[int, tuple[Subscriber, SubscriberProfile]]:
    """Profiles of the claimed subscribers who are still active, by subscriber id."""
    with db.session() as session:
        subscribers = list(
            session.scalars(
                select(Subscriber).where(
                    Subscriber.id.in_([claim.subscriber_id for claim in claims]),
                    Subscriber.state == SubscriberState.ACTIVE,
                )
            )
        )
        profiles = load_profiles(session, subscribers, content.pool)
        for subscriber in subscribers:
            session.expunge(subscriber)
    return {s.id: (s, p) for s, p in zip(subscribers, profiles, strict=True)}


def deliver_batch(
    db: Database,
    settings: Settings,
    edition_id: int,
    *,
    now: datetime | None = None,
    limiter: SendLimiter | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> SendCounts:
    """Claim one batch of the edition's queued deliveries and send it over one connection.

    Returns the counts; `due == 0` means there was nothing left to claim.
    """
    now = now or utcnow()
    claims = claim_batch(db, edition_id, now, settings.send_batch_size, settings.send_lease_seconds)
    counts = SendCounts(due=len(claims))
    if not claims:
        return counts
    with Recorder.open(db) as recorder:
        _send_claims(db, settings, edition_id, claims, recorder, limiter, on_progress, counts, now)
    return counts


def _send_claims(
    db: Database,
    settings: Settings,
    edition_id: int,
    claims: list[Claim],
    recorder: Recorder,
    limiter: SendLimiter | None,
    on_progress: Callable[[int], None] | None,
    counts: SendCounts,
    now: datetime,
) -> None:
    content = load_edition_by_id(db, edition_id)
    if content is None:
        for claim in claims:
            recorder.failed(claim.delivery_id, "the edition has no papers", now)
        counts.failed = len(claims)
        return
    people = _profiles_for(db, content, claims)
    ordered = [claim for claim in claims if claim.subscriber_id in people]
    for claim in claims:
        if claim.subscriber_id not in people:
            recorder.skipped(claim.delivery_id, LEFT_BEFORE_SENDING, now)
            counts.skipped += 1
    personal = personal_entries(content, [people[c.subscriber_id][1] for c in ordered], settings)
    renderers = Renderers(settings, content)
    with SmtpSender(SmtpConfig.from_url(settings.smtp_url)) as sender:
        for position, (claim, entries) in enumerate(zip(ordered, personal, strict=True)):
            subscriber = people[claim.subscriber_id][0]
            send = Send(claim, subscriber, entries, renderers.of(subscriber))
            outcome, detail = _deliver_one(
                settings, sender, recorder, limiter or Unlimited(), send, now
            )
            _count(counts, outcome)
            if detail:
                counts.errors.append(detail)
            if on_progress is not None:
                on_progress(1)
            if outcome is Outcome.UNREACHABLE:
                # The server is down: put the rest back for a later run instead of timing out
                # on each of them.
                for rest in ordered[position + 1 :]:
                    recorder.defer_or_give_up(rest, "SMTP server unreachable", now, settings)
                    counts.deferred += 1
                break


@dataclass(frozen=True)
class Send:
    """One message to send: the claim, its subscriber, their papers, the renderer."""

    claim: Claim
    subscriber: Subscriber
    entries: list[EditionEntry]
    renderer: DigestRenderer


class Renderers:
    """The DigestRenderers of an edition (daily, weekly), kept with the cached edition so
    their inlined fragments are reused by every batch this process sends."""

    def __init__(self, settings: Settings, content: EditionContent) -> None:
        self.settings = settings
        self.content = content
        self._fingerprint = hash(settings.model_dump_json())

    def of(self, subscriber: Subscriber) -> DigestRenderer:
        weekly = subscriber.frequency == Frequency.WEEKLY
        key = (weekly, self._fingerprint)
        made = self.content.renderers.get(key)
        if made is None:
            made = DigestRenderer(
                self.settings, self.content.day, weekly=weekly, sample=self.content.is_sample
            )
            self.content.renderers[key] = made
        return made


class Outcome(enum.Enum):
    SENT = "sent"
    EMPTY = "empty"
    LEFT = "left"
    DEFERRED = "deferred"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    BOUNCED = "bounced"


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


def _deliver_one(
    settings: Settings,
    sender: SmtpSender,
    recorder: Recorder,
    limiter: SendLimiter,
    send: Send,
    now: datetime,
) -> tuple[Outcome, str | None]:
    """Send one subscriber's digest; the outcome and, for failures, what went wrong."""
    claim, subscriber = send.claim, send.subscriber
    if not send.entries:
        recorder.skipped(claim.delivery_id, NOTHING_NEW, now)
        return Outcome.EMPTY, None
    try:
        message = send.renderer.render(
            subscriber_id=subscriber.id, email=subscriber.email, entries=send.entries
        )
    except ValueError as exc:  # the email policy refuses a value it cannot encode safely
        recorder.failed(claim.delivery_id, f"could not render: {exc}", now)
        log.error("subscriber %d: digest could not be rendered: %s", subscriber.id, exc)
        return Outcome.FAILED, str(exc)
    limiter.acquire()
    # Checked right before sending: an unsubscribe that lands mid-batch still counts.
    if not recorder.is_active(subscriber.id):
        recorder.skipped(claim.delivery_id, LEFT_BEFORE_SENDING, now)
        return Outcome.LEFT, None
    try:
        sender.send(message)
    except PermanentRejection as exc:
        recorder.bounced(claim, str(exc), now)
        log.warning("subscriber %d refused permanently: %s", subscriber.id, exc)
        return Outcome.BOUNCED, str(exc)
    except Unreachable as exc:
        recorder.defer_or_give_up(claim, str(exc), now, settings)
        log.warning("SMTP server unreachable: %s", exc)
        return Outcome.UNREACHABLE, str(exc)
    except TemporaryFailure as exc:
        deferred = recorder.defer_or_give_up(claim, str(exc), now, settings)
        log.warning(
            "subscriber %d %s: %s", subscriber.id, "deferred" if deferred else "failed", exc
        )
        return (Outcome.DEFERRED if deferred else Outcome.FAILED), str(exc)
    # The one window for a duplicate: the server has the message, the row is not yet 'sent'.
    recorder.sent(claim.delivery_id, str(message["Message-ID"]), send.entries, now)
    return Outcome.SENT, None


def chunked(ids: Iterable[int], size: int) -> Iterable[list[int]]:
    batch: list[int] = []
    for item in ids:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
