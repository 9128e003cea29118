"""The subscriber emails that are not digests, one declaration each (digest.pipeline.kinds).

Adding a kind is a function here, its three templates in templates/email/<kind>/ and, for
one beat sends on a schedule, one line in the beat schedule (workers/app.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from digest import links
from digest.papers import EditionEntry, PaperText
from digest.pipeline.kinds import Notice, Recipient, email_kind
from digest.settings import EmailSettings
from digest.store.models import Delivery, DeliveryStatus, Pool, Subscriber, SubscriberState
from digest.store.pools import find_pool, pool_entries
from digest.store.profiles import papers_received
from digest.store.suppression import suppressed_among

CONFIRMATION_EMAIL = "confirm"
ALREADY_SUBSCRIBED_EMAIL = "already_subscribed"
MISSED_PAPERS_EMAIL = "missed_papers"
# The emails anyone can ask for by typing an address into the form share one clock per
# address (`rated`): at most one of them every ten minutes.
ANSWER_INTERVAL = timedelta(minutes=10)


# Unsubscribed too: a person who left and asks to come back confirms like a new one.
@email_kind(
    CONFIRMATION_EMAIL,
    for_states=(SubscriberState.PENDING, SubscriberState.UNSUBSCRIBED),
    answers_request=True,
    rated=True,
    every=ANSWER_INTERVAL,
)
def confirmation(to: Recipient) -> Notice:
    """The double opt-in email: one link that activates the subscription with the
    preferences of the request it answers (a later request's link carries its own)."""
    url = links.confirm_url(to.settings, to.subscriber_id, to.email, to.request_id)
    return Notice(
        {
            "confirm_url": url,
            "expires_hours": to.settings.confirm_max_age_hours,
        }
    )


@email_kind(
    ALREADY_SUBSCRIBED_EMAIL,
    for_states=(SubscriberState.ACTIVE,),
    answers_request=True,
    rated=True,
    every=ANSWER_INTERVAL,
)
def already_subscribed(to: Recipient) -> Notice:
    """Answer to the subscribe form for an active address: its preferences and unsubscribe
    links."""
    unsubscribe = links.unsubscribe_url(to.settings, to.subscriber_id, to.email)
    return Notice(
        {
            "preferences_url": links.preferences_url(to.settings, to.subscriber_id, to.email),
            "unsubscribe_url": unsubscribe,
        },
        headers={
            "List-Id": to.settings.list_id,
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


# --- papers you missed: a weekly reminder, off unless DIGEST_MISSED_PAPERS_REMINDER ----------

WEEK = timedelta(days=7)
MISSED_PAPERS_SHOWN = 5
TOP_OF_EACH_POOL = 20  # how far down each day's trend order a missed paper may come from


def quiet_for_a_week(session: Session, now: datetime) -> Sequence[int]:
    """Active subscribers, confirmed a week or more ago, whom no digest reached in the past
    week (nothing new matched what they follow, or their copies failed), while pools were
    made in that week."""
    since = now - WEEK
    if not session.scalar(select(exists().where(Pool.date >= since.date()))):
        return []
    reached = select(Delivery.subscriber_id).where(
        Delivery.status == DeliveryStatus.SENT, Delivery.finished_at >= since
    )
    rows = session.execute(
        select(Subscriber.id, Subscriber.email)
        .where(
            Subscriber.state == SubscriberState.ACTIVE,
            Subscriber.confirmed_at <= since,
            Subscriber.id.not_in(reached),
        )
        .order_by(Subscriber.id)
    ).all()
    blocked = suppressed_among(session, [email for _, email in rows])
    return [subscriber_id for subscriber_id, email in rows if email not in blocked]


@email_kind(
    MISSED_PAPERS_EMAIL,
    for_states=(SubscriberState.ACTIVE,),
    every=WEEK,
    enabled=lambda settings: settings.missed_papers_reminder,
    audience=quiet_for_a_week,
)
def missed_papers(to: Recipient) -> Notice | None:
    """The week's most talked-about papers that no digest of theirs carried and none of
    their mutes withholds, best trend rank first; None when there are none."""
    session = to.store
    subscriber = session.get_one(Subscriber, to.subscriber_id)
    best: dict[int, MissedPaper] = {}
    for age in range(WEEK.days):
        day = to.now.date() - timedelta(days=age)
        pool = find_pool(session, day)
        for entry in pool_entries(session, pool, TOP_OF_EACH_POOL) if pool else ():
            assert entry.paper_id is not None
            known = best.get(entry.paper_id)
            if known is None or entry.rank < known.entry.rank:
                best[entry.paper_id] = MissedPaper(entry, day)
    if not best:
        return None
    received = papers_received(session, [subscriber.id], list(best))[subscriber.id]
    muted = _muted(best, tuple(subscriber.muted), tuple(subscriber.muted_authors))
    missed = sorted(
        (paper for paper_id, paper in best.items() if paper_id not in received | muted),
        key=lambda paper: (paper.entry.rank, -paper.day.toordinal()),
    )[:MISSED_PAPERS_SHOWN]
    if not missed:
        return None
    personal = links.SubscriberLinks.make(to.settings, to.subscriber_id, to.email)
    return Notice(
        {
            "papers": missed,
            "preferences_url": personal.preferences,
            "unsubscribe_url": personal.unsubscribe,
        },
        headers=list_headers(to.settings, personal),
    )


@dataclass(frozen=True)
class MissedPaper:
    entry: EditionEntry
    day: date  # the day of its best place in the trend order

    @property
    def when(self) -> str:
        return f"No. {self.entry.rank} trending on {self.day:%A} {self.day.day} {self.day:%B}"


def _muted(
    papers: dict[int, MissedPaper], phrases: tuple[str, ...], authors: tuple[str, ...]
) -> frozenset[int]:
    """The papers the subscriber's mutes withhold, by the rule every edition follows."""
    if not (phrases or authors):
        return frozenset()
    # Imported here: ranking loads scikit-learn, which the web process otherwise never needs.
    from digest.rank.mutes import Mutes, muted_papers
    from digest.rank.pool import CandidatePool, PoolPaper

    pool = CandidatePool(
        [
            PoolPaper(paper_id, PaperText.of(paper.entry), float(-paper.entry.rank))
            for paper_id, paper in papers.items()
        ]
    )
    return muted_papers(pool, Mutes(phrases, authors))


def list_headers(settings: EmailSettings, personal: links.SubscriberLinks) -> dict[str, str]:
    """List-Id and the one-click List-Unsubscribe (RFC 8058) a digest carries, with the
    mailto: one when DIGEST_UNSUBSCRIBE_MAILBOX is set."""
    unsubscribe = [f"<{personal.unsubscribe}>"]
    if settings.unsubscribe_mailbox:
        unsubscribe.append(
            f"<mailto:{settings.unsubscribe_mailbox}"
            f"?subject=unsubscribe%20{personal.unsubscribe_token}>"
        )
    return {
        "List-Id": settings.list_id,
        "List-Unsubscribe": ", ".join(unsubscribe),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
