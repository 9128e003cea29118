"""The weekly "papers you missed" reminder through the real outbox and a real SMTP server,
on SQLite and PostgreSQL: off by default, at most once a week, only to active subscribers
no digest reached for a week, and only with papers none of their digests carried."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from digest.pipeline.emails import MISSED_PAPERS_EMAIL
from digest.pipeline.notices import queue_scheduled, send_outbox
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import OutboxEmail, Paper, Subscriber, SubscriberState
from tests.conftest import SmtpSink
from tests.factories import make_paper, make_pool, make_sent_digest, make_subscriber

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
QUIET = "quiet@example.org"


@dataclass(frozen=True)
class Week:
    papers: list[Paper]  # trend order of the week's pools: papers[0] is the top one
    quiet: int  # an active subscriber no digest reached this week


def _week(db: Database) -> Week:
    """A week of pools, a subscriber no digest reached in it (their last one, nine days ago,
    carried the top paper), and subscribers the reminder is not for."""
    confirmed = NOW - timedelta(days=30)
    with db.session() as session:
        papers = [
            make_paper(session, listed_on=TODAY, title=f"Trending study number {n}")
            for n in range(1, 9)
        ]
        papers[2].authors = ["Muted Author"]
        old_pool = make_pool(session, TODAY - timedelta(days=9), papers[:1])
        make_pool(session, TODAY - timedelta(days=3), papers[:4])
        make_pool(session, TODAY, papers[4:] + papers[:1])

        quiet = make_subscriber(session, QUIET)
        quiet.confirmed_at = confirmed
        quiet.muted_authors = ["Muted Author"]
        make_sent_digest(session, quiet, old_pool, papers[:1], NOW - timedelta(days=9))

        reached = make_subscriber(session, "reached@example.org")
        reached.confirmed_at = confirmed
        make_sent_digest(session, reached, old_pool, papers[:1], NOW - timedelta(days=2))
        new = make_subscriber(session, "new@example.org")
        new.confirmed_at = NOW - timedelta(days=3)
        for state in (SubscriberState.UNSUBSCRIBED, SubscriberState.BOUNCED):
            left = make_subscriber(session, f"{state.value}@example.org", state=state)
            left.confirmed_at = confirmed
        make_subscriber(session, "pending@example.org", state=SubscriberState.PENDING)
        return Week(papers, quiet.id)


def _on(settings: Settings) -> Settings:
    return settings.model_copy(update={"missed_papers_reminder": True})


def test_off_by_default_nobody_gets_it(
    db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    _week(db)
    assert queue_scheduled(db, settings, MISSED_PAPERS_EMAIL, NOW) == 0
    assert send_outbox(db, settings, NOW).sent == []
    assert smtp_sink.received == []


def test_the_quiet_subscriber_gets_the_weeks_top_papers_they_were_not_sent(
    db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    week = _week(db)
    on = _on(settings)

    assert queue_scheduled(db, on, MISSED_PAPERS_EMAIL, NOW) == 1
    assert send_outbox(db, on, NOW).sent == [(MISSED_PAPERS_EMAIL, week.quiet)]

    [message] = smtp_sink.received
    assert message["To"] == QUIET
    assert message["Subject"] == "5 trending papers you missed this week"
    assert message["List-Unsubscribe"].startswith("<https://digest.example.org/unsubscribe?token=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "digest.example.org" in message["List-Id"]
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    text = str(plain.get_content()).replace("\r\n", "\n")
    html = str(message.get_body(preferencelist=("html",)).get_content())  # type: ignore[union-attr]
    listed = re.findall(r"^\d\. Trending study number (\d)$", text, re.MULTILINE)
    # Not the top paper (a digest carried it), not the muted author's; best place first,
    # the later day first between equal places.
    assert listed == ["5", "6", "2", "7", "8"]
    assert "No. 2 trending on Sunday 22 November" in text
    for part in (text, html):
        assert "/unsubscribe?token=" in part and "/preferences?token=" in part
        assert f"because {QUIET}" in part.replace('<span class="address">', "").replace(
            "</span>", ""
        )
    assert "Questions or problems? Write to ops@example.org." in text


def test_at_most_once_a_week(db: Database, settings: Settings, smtp_sink: SmtpSink) -> None:
    week = _week(db)
    on = _on(settings)
    assert queue_scheduled(db, on, MISSED_PAPERS_EMAIL, NOW) == 1
    send_outbox(db, on, NOW)

    assert queue_scheduled(db, on, MISSED_PAPERS_EMAIL, NOW + timedelta(hours=1)) == 0
    # Even asked for by hand, the kind's interval holds.
    with db.session() as session:
        session.add(
            OutboxEmail(
                kind=MISSED_PAPERS_EMAIL,
                subscriber_id=week.quiet,
                queue_key=f"{MISSED_PAPERS_EMAIL}:{week.quiet}",
                status="pending",
                created_at=NOW,
            )
        )
    report = send_outbox(db, on, NOW + timedelta(days=3))
    assert report.sent == []
    assert "one was sent 3 days ago" in _errors(db)

    # Six days on, others have gone a week without a digest; the quiet one is not queued.
    queue_scheduled(db, on, MISSED_PAPERS_EMAIL, NOW + timedelta(days=6, hours=23))
    assert week.quiet not in _queued(db)

    next_week = NOW + timedelta(days=7)
    with db.session() as session:
        make_pool(session, next_week.date(), [make_paper(session, listed_on=next_week.date())])
    queue_scheduled(db, on, MISSED_PAPERS_EMAIL, next_week)
    assert week.quiet in _queued(db)
    assert (MISSED_PAPERS_EMAIL, week.quiet) in send_outbox(db, on, next_week).sent
    assert len(smtp_sink.messages_to(QUIET)) == 2


@pytest.mark.parametrize("change", ["unsubscribed", "turned off"])
def test_a_queued_reminder_is_not_sent_once_it_no_longer_applies(
    db: Database, settings: Settings, smtp_sink: SmtpSink, change: str
) -> None:
    week = _week(db)
    on = _on(settings)
    assert queue_scheduled(db, on, MISSED_PAPERS_EMAIL, NOW) == 1
    if change == "unsubscribed":
        with db.session() as session:
            session.get_one(Subscriber, week.quiet).state = SubscriberState.UNSUBSCRIBED
    report = send_outbox(db, on if change == "unsubscribed" else settings, NOW)
    assert (report.sent, report.skipped) == ([], 1)
    assert smtp_sink.received == []
    assert _errors(db) == [
        "the subscriber is unsubscribed"
        if change == "unsubscribed"
        else "missed_papers emails are turned off"
    ]


def test_nothing_missed_means_no_email(
    db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    on = _on(settings)
    with db.session() as session:
        papers = [make_paper(session, listed_on=TODAY) for _ in range(2)]
        old = make_pool(session, TODAY - timedelta(days=9), papers)
        make_pool(session, TODAY - timedelta(days=1), papers)
        reader = make_subscriber(session, QUIET)
        reader.confirmed_at = NOW - timedelta(days=30)
        make_sent_digest(session, reader, old, papers, NOW - timedelta(days=9))
    assert queue_scheduled(db, on, MISSED_PAPERS_EMAIL, NOW) == 1
    report = send_outbox(db, on, NOW)
    assert (report.sent, report.skipped) == ([], 1)
    assert _errors(db) == ["no missed_papers email to send"]
    assert smtp_sink.received == []


def test_a_week_without_pools_queues_nobody(db: Database, settings: Settings) -> None:
    with db.session() as session:
        reader = make_subscriber(session, QUIET)
        reader.confirmed_at = NOW - timedelta(days=30)
        make_pool(session, date(2026, 11, 1), [make_paper(session, listed_on=date(2026, 11, 1))])
    assert queue_scheduled(db, _on(settings), MISSED_PAPERS_EMAIL, NOW) == 0


def _errors(db: Database) -> list[str | None]:
    with db.session() as session:
        return list(
            session.scalars(
                select(OutboxEmail.error)
                .where(OutboxEmail.status == "skipped")
                .order_by(OutboxEmail.id)
            )
        )


def _queued(db: Database) -> set[int | None]:
    with db.session() as session:
        return set(
            session.scalars(
                select(OutboxEmail.subscriber_id).where(OutboxEmail.status == "pending")
            )
        )
