"""The send engine: every email leaves through `send_batch`: claim -> compose -> send -> record.

Two queues feed it: the deliveries (each subscriber's digest of a day, digest.store.deliveries)
and the outbox (confirmations and the other subscriber emails, digest.store.outbox). The
engine declares what it needs of a queue (`Queue`, `Recorder`) and of a kind of email
(`Composer`, `Draft`); the stores and digest.pipeline.send / digest.pipeline.notices
implement them. This is the one module that opens a sender (an import contract checks it)
and the one place that decides what a failed send means for a row.

The exactly-once protocol, in the order `send_batch` follows it (its comments number the
steps):

1. **Journal.** Marks a database outage left in this machine's journal are written first.
2. **Claim.** Up to a batch of due rows, leased until the clock at this claim plus the
   lease, under a fresh token. A delivery whose lease ran out with its message in flight is
   counted uncertain as it is claimed again (and sent again under the same Message-ID).
3. **Lease.** Renewed for every row still held once a third of it has passed, so a live
   sender's rows never become claimable however long its batch takes.
4. **Window.** Up to `window` messages are composed; then one write records the marks of
   the window before and notes these in flight, only on rows still under this sender's
   token (for a digest, only while the subscriber is active). A row another sender took
   over is left to it; a subscriber who left meanwhile is skipped.
5. **Send.** Each message over the batch's one connection, at the shared rate if there is
   one. A failure means the same for every email (digest.mail.outcomes): a permanent
   refusal of the address bounces the row and suppresses the address; a temporary one
   defers the row with backoff until `give_up_hours` after its first attempt; no server (or
   a relay that refuses us) defers the rest of the batch as well; anything else fails that
   message only.
6. **Record.** The mark of an accepted message is held until the next window's write, so a
   sender that dies leaves at most one window accepted but unrecorded (the rows counted
   uncertain in 2). With a shared rate (each message waits its turn), or for a kind whose
   next message reads the last one's mark (a notice's resend rule), each mark is written as
   soon as the server accepts. Writes are retried through dropped connections; if the
   database stays away, the held marks go to the journal and the sender stops.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Generic, Protocol, TypeVar

from digest.mail.envelope import Envelope
from digest.mail.outcomes import SendFailure, classify_send_failure
from digest.mail.send_rate import SendLimiter, Unlimited
from digest.mail.senders import Sender, open_sender
from digest.settings import DeliverySettings
from digest.store.types import utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
LEFT_BEFORE_SENDING = "the subscriber left before it was sent"
SERVER_DOWN = "SMTP server unreachable"


class Claimed(Protocol):
    """One row a sender claimed from a queue."""

    @property
    def row_id(self) -> int: ...

    @property
    def subscriber_id(self) -> int | None: ...

    @property
    def token(self) -> str: ...  # the batch's claim

    @property
    def attempts(self) -> int: ...  # including this one

    @property
    def first_attempt_at(self) -> datetime: ...


C = TypeVar("C", bound=Claimed)
M = TypeVar("M")  # the sent mark a queue records for a message the server accepted
C_in = TypeVar("C_in", bound=Claimed, contravariant=True)
M_in = TypeVar("M_in", contravariant=True)


class Recorder(Protocol[C_in, M_in]):
    """Writes one batch's outcomes. Every write is idempotent and retried through dropped
    connections. An outcome is written only on a row still under this sender's claim (False
    if another sender took it over); a sent mark is written whoever holds the row: it
    records what the server accepted, and stops the other sender from sending it again."""

    def renew(self, token: str, now: datetime, lease_seconds: int) -> object:
        """Extend the lease of every row still held under `token` to `now` + `lease_seconds`."""

    def settle_and_begin(
        self, marks: Sequence[M_in], following: Sequence[C_in], now: datetime
    ) -> set[int]:
        """Write `marks` and note `following` in flight, in one transaction; the row ids of
        `following` that may be sent. If the database stays away, keep the marks in the
        journal (if the queue has one) and raise."""

    def skipped(self, claim: C_in, reason: str, now: datetime) -> bool: ...

    def failed(self, claim: C_in, reason: str, now: datetime) -> bool: ...

    def deferred(self, claim: C_in, reason: str, now: datetime, retry_at: datetime) -> bool: ...

    def bounced(self, claim: C_in, reason: str, now: datetime) -> object:
        """Record a permanent refusal of the address and suppress the address."""


class Queue(Protocol[C, M_in]):
    """A queue of emails in the store."""

    def settle_journal(self) -> object:
        """Write the marks a database outage left in this machine's journal."""

    def claim(self, now: datetime, size: int, lease_seconds: int) -> list[C]:
        """Up to `size` due rows, leased until `now` + `lease_seconds` under a fresh token."""

    def recorder(self) -> AbstractContextManager[Recorder[C, M_in]]: ...


class Outcome(enum.Enum):
    SENT = "sent"
    EMPTY = "empty"  # nothing to send (no new paper qualified)
    SKIPPED = "skipped"  # not for this recipient any more (left, suppressed, too soon)
    DEFERRED = "deferred"
    FAILED = "failed"
    BOUNCED = "bounced"
    TAKEN_OVER = "taken over"  # another sender claimed the row after this one's lease ran out


@dataclass(frozen=True)
class Unsent(Generic[C]):
    """A claim that gets no message, and why: EMPTY, SKIPPED or FAILED."""

    claim: C
    outcome: Outcome
    reason: str


@dataclass(frozen=True)
class Letter(Generic[C, M]):
    """A composed message, ready to hand over."""

    claim: C
    message: EmailMessage | bytes
    envelope: Envelope
    mark: Callable[[datetime], M]  # its sent mark, given the moment the server accepted it


class Draft(Protocol[C, M]):
    """One claim's message, composed when its window comes (so it reads what is current)."""

    @property
    def claim(self) -> C: ...

    def compose(self, now: datetime) -> Letter[C, M] | Unsent[C]: ...


class Composer(Protocol[C, M]):
    """A kind of email: how its queue is sent, and what each claim gets."""

    @property
    def batch_size(self) -> int: ...

    @property
    def window(self) -> int: ...  # messages handed over before their marks are written

    @property
    def marks_at_once(self) -> bool: ...  # the next message reads the last one's mark

    def prepare(self, claims: Sequence[C], now: datetime) -> Sequence[Draft[C, M] | Unsent[C]]:
        """A draft per claim that may get a message, the others with why not."""


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
    server_down: bool = False  # the run stopped: no SMTP server (the rest was deferred)

    def add(self, other: SendCounts) -> None:
        for name in ("due", *COUNTED.values()):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
        self.server_down = self.server_down or other.server_down


COUNTED = {
    Outcome.SENT: "sent",
    Outcome.EMPTY: "empty",
    Outcome.SKIPPED: "skipped",
    Outcome.DEFERRED: "deferred",
    Outcome.FAILED: "failed",
    Outcome.BOUNCED: "bounced",
    Outcome.TAKEN_OVER: "taken_over",
}


def send_batch(
    queue: Queue[C, M],
    composer: Composer[C, M],
    delivery: DeliverySettings,
    *,
    clock: Clock = utcnow,
    limiter: SendLimiter | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_sent: Callable[[M], None] | None = None,
) -> SendCounts:
    """Claim one batch of `queue`, compose and send it over one connection, and record each
    outcome. Every lease, mark and retry is timed by `clock` when it happens, never by the
    moment a run started. `due == 0` in the counts: there was nothing left to claim."""
    queue.settle_journal()  # 1
    claims = queue.claim(clock(), composer.batch_size, delivery.lease_seconds)  # 2
    batch = Batch(SendCounts(due=len(claims)), delivery, on_progress)
    if not claims:
        return batch.counts
    pace = limiter or Unlimited()
    one_by_one = composer.marks_at_once or not isinstance(pace, Unlimited)
    window = 1 if one_by_one else composer.window
    with queue.recorder() as recorder:
        lease = HeldLease(recorder, claims[0].token, delivery.lease_seconds, clock)  # 3
        drafts = batch.drafts(recorder, composer.prepare(claims, lease.keep()), lease)
        marks = PendingMarks(recorder, clock, on_sent)
        with open_sender(delivery.mail_url) as sender, marks:
            for start in range(0, len(drafts), window):  # 4
                letters = batch.compose(recorder, drafts[start : start + window], lease)
                allowed = marks.begin([letter.claim for letter in letters], lease.keep())
                for position, letter in enumerate(letters):
                    if letter.claim.row_id not in allowed:
                        # Checked right before sending: an unsubscribe that lands mid-batch
                        # counts, and a row another sender took over is left to it.
                        left = recorder.skipped(letter.claim, LEFT_BEFORE_SENDING, clock())
                        batch.tally(Outcome.SKIPPED if left else Outcome.TAKEN_OVER)
                        continue
                    pace.acquire()
                    failure = batch.hand_over(sender, recorder, letter, clock)  # 5
                    if failure is SendFailure.UNREACHABLE:
                        # The server is down: put the rest back for a later run instead of
                        # timing out on each of them.
                        rest = [later.claim for later in letters[position + 1 :]]
                        rest += [later.claim for later in drafts[start + window :]]
                        batch.defer_rest(recorder, rest, clock)
                        return batch.counts
                    if failure is None:  # 6
                        # The window for a duplicate: the server has the message, the row is
                        # not yet 'sent' (until the next window's write, or the flush).
                        marks.hold(letter.mark(clock()))
                        if one_by_one:
                            marks.flush()
    return batch.counts


class HeldLease:
    """The lease on one batch's rows, renewed while the sender works through them.

    A claim is leased for `seconds`; once a third of that has passed since the claim or the
    last renewal, every row still held is leased again, so a live sender's rows never
    become claimable by another sender however long the batch takes.
    """

    def __init__(
        self, recorder: Recorder[Any, Any], token: str, seconds: int, clock: Clock
    ) -> None:
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


class PendingMarks(Generic[C, M]):
    """The marks of the messages the server accepted in this window, written together with
    the next window's in-flight marks (one write a window), or alone when flushed.

    Either way they are written before another message goes out, so what may be in flight
    unrecorded when a sender dies is at most one window.
    """

    def __init__(
        self, recorder: Recorder[C, M], clock: Clock, on_sent: Callable[[M], None] | None
    ) -> None:
        self.recorder = recorder
        self.clock = clock
        self.on_sent = on_sent
        self._held: list[M] = []

    def hold(self, mark: M) -> None:
        self._held.append(mark)
        if self.on_sent is not None:
            self.on_sent(mark)

    def begin(self, claims: list[C], now: datetime) -> set[int]:
        """Write the held marks and note `claims` in flight; the row ids that may be sent."""
        held, self._held = self._held, []
        if not held and not claims:
            return set()
        return self.recorder.settle_and_begin(held, claims, now)

    def flush(self) -> None:
        held, self._held = self._held, []
        if held:
            self.recorder.settle_and_begin(held, [], self.clock())

    def __enter__(self) -> PendingMarks[C, M]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


class Batch:
    """One batch's counts, and the steps that record an outcome."""

    def __init__(
        self,
        counts: SendCounts,
        delivery: DeliverySettings,
        on_progress: Callable[[int], None] | None,
    ) -> None:
        self.counts = counts
        self.delivery = delivery
        self.on_progress = on_progress

    def tally(self, outcome: Outcome, detail: str | None = None) -> None:
        name = COUNTED[outcome]
        setattr(self.counts, name, getattr(self.counts, name) + 1)
        if detail:
            self.counts.errors.append(detail)
        if self.on_progress is not None:
            self.on_progress(1)

    def record_unsent(self, recorder: Recorder[C, Any], unsent: Unsent[C], now: datetime) -> None:
        if unsent.outcome is Outcome.FAILED:
            recorder.failed(unsent.claim, unsent.reason, now)
            self.tally(Outcome.FAILED)
        elif recorder.skipped(unsent.claim, unsent.reason, now):
            self.tally(unsent.outcome)
        else:
            self.tally(Outcome.TAKEN_OVER)

    def drafts(
        self,
        recorder: Recorder[C, M],
        prepared: Sequence[Draft[C, M] | Unsent[C]],
        lease: HeldLease,
    ) -> list[Draft[C, M]]:
        """The drafts to compose; the claims that get no message are recorded with why."""
        drafts = []
        for item in prepared:
            if isinstance(item, Unsent):
                self.record_unsent(recorder, item, lease.keep())
            else:
                drafts.append(item)
        return drafts

    def compose(
        self, recorder: Recorder[C, M], drafts: Sequence[Draft[C, M]], lease: HeldLease
    ) -> list[Letter[C, M]]:
        """The window's letters; the claims that get none are recorded with why."""
        letters = []
        for draft in drafts:
            now = lease.keep()
            try:
                composed = draft.compose(now)
            except Exception as exc:  # e.g. a value the email policy cannot encode safely
                reason = f"could not render ({type(exc).__name__}): {exc}"
                recorder.failed(draft.claim, reason, now)
                log.error("subscriber %s: %s", draft.claim.subscriber_id, reason)
                self.tally(Outcome.FAILED, reason)
                continue
            if isinstance(composed, Unsent):
                self.record_unsent(recorder, composed, now)
            else:
                letters.append(composed)
        return letters

    def hand_over(
        self, sender: Sender, recorder: Recorder[C, M], letter: Letter[C, M], clock: Clock
    ) -> SendFailure | None:
        """Send one letter; what went wrong, recorded, or None when the server took it."""
        try:
            sender.send(letter.message, letter.envelope)
        except Exception as exc:
            failure = classify_send_failure(exc)
            self.tally(self.record_failure(recorder, letter.claim, failure, exc, clock()), str(exc))
            return failure
        self.tally(Outcome.SENT)
        return None

    def record_failure(
        self,
        recorder: Recorder[C, Any],
        claim: C,
        failure: SendFailure,
        error: Exception,
        now: datetime,
    ) -> Outcome:
        """Record what a failed send means for the row, the same for every kind of email."""
        subscriber = claim.subscriber_id
        match failure:
            case SendFailure.BOUNCED:
                recorder.bounced(claim, str(error), now)
                log.warning("subscriber %s refused permanently: %s", subscriber, error)
                return Outcome.BOUNCED
            case SendFailure.UNREACHABLE:
                log.warning("SMTP server unreachable: %s", error)
                return self.defer_or_give_up(recorder, claim, str(error), now)
            case SendFailure.RETRY:
                outcome = self.defer_or_give_up(recorder, claim, str(error), now)
                log.warning("subscriber %s %s: %s", subscriber, outcome.value, error)
                return outcome
        # One message that cannot be sent must not stop the batch or leave it claimed.
        # Failed, not retried: the server may have taken it, and a second copy is worse.
        recorder.failed(claim, f"not sent ({type(error).__name__}): {error}", now)
        log.error("subscriber %s: not sent (%s)", subscriber, type(error).__name__)
        return Outcome.FAILED

    def defer_rest(self, recorder: Recorder[C, Any], claims: Sequence[C], clock: Clock) -> None:
        """The server is down: every claim not yet tried waits for a later run."""
        for claim in claims:
            self.tally(self.defer_or_give_up(recorder, claim, SERVER_DOWN, clock()))
        self.counts.server_down = True

    def defer_or_give_up(
        self, recorder: Recorder[C, Any], claim: C, reason: str, now: datetime
    ) -> Outcome:
        """Retry later with backoff, or give up once the first attempt is `give_up_hours`
        old."""
        retry_at = next_attempt(claim.attempts, claim.first_attempt_at, now, self.delivery)
        if retry_at is None:
            recorder.failed(claim, f"gave up after {claim.attempts} attempts: {reason}", now)
            return Outcome.FAILED
        if recorder.deferred(claim, reason, now, retry_at):
            return Outcome.DEFERRED
        return Outcome.TAKEN_OVER


def next_attempt(
    attempts: int, first_attempt_at: datetime, now: datetime, delivery: DeliverySettings
) -> datetime | None:
    """When to try again after a temporary failure; None once it is time to give up."""
    if now - first_attempt_at >= timedelta(hours=delivery.give_up_hours):
        return None
    return now + timedelta(seconds=retry_delay(attempts, delivery))


def retry_delay(attempts: int, delivery: DeliverySettings) -> float:
    """Exponential backoff with jitter: base * 2^(attempts-1), capped, times 0.5-1.5."""
    raw = min(delivery.retry_base_seconds * 2 ** max(attempts - 1, 0), delivery.retry_max_seconds)
    return float(raw * (0.5 + random.random()))
