"""`digest stats`: each edition's run by outcome, with its timing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from digest.store.db import Database
from digest.store.models import Delivery, DeliveryStatus, Paper, Pool, PoolItem
from digest.store.stats import collect_stats, describe_edition, format_duration
from digest.store.subscribers import request_subscription
from tests.conftest import TEST_SECRET, free_port
from tests.conftest import run_digest as run
from tests.factories import make_paper, make_subscriber

DAY = date(2026, 11, 25)
START = datetime(2026, 11, 25, 7, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def fill_edition(db: Database) -> None:
    """Yesterday fully sent; today part sent, part still queued."""
    with db.session() as session:
        papers: list[Paper] = [make_paper(session, listed_on=DAY) for _ in range(3)]
        yesterday = Pool(date=DAY - timedelta(days=1))
        today = Pool(date=DAY)
        session.add_all([yesterday, today])
        session.flush()
        session.add_all(
            PoolItem(pool_id=today.id, paper_id=p.id, rank=i, score=1.0)
            for i, p in enumerate(papers, 1)
        )
        rows = [
            (yesterday, DeliveryStatus.SENT, at(-86400), at(-86395)),
            (today, DeliveryStatus.SENT, at(0), at(3)),
            (today, DeliveryStatus.SENT, at(1), at(4)),
            (today, DeliveryStatus.SENT, at(2), at(200)),
            (today, DeliveryStatus.SKIPPED, at(5), at(6)),
            (today, DeliveryStatus.DEFERRED, at(7), None),
            (today, DeliveryStatus.FAILED, at(8), at(9)),
            (today, DeliveryStatus.BOUNCED, at(10), at(11)),
            (today, DeliveryStatus.PENDING, None, None),
            (today, DeliveryStatus.CLAIMED, at(12), None),
        ]
        for edition, status, first_attempt, finished in rows:
            subscriber = make_subscriber(session)
            session.add(
                Delivery(
                    subscriber_id=subscriber.id,
                    pool_id=edition.id,
                    status=status,
                    due_at=START,
                    # A pending row's claimed_at is when it was queued, not a claim.
                    claimed_at=first_attempt or at(-3600),
                    first_attempt_at=first_attempt,
                    finished_at=finished,
                )
            )


def test_each_edition_shows_its_outcomes_and_timing(db: Database) -> None:
    fill_edition(db)
    with db.session() as session:
        stats = collect_stats(session)

    today, yesterday = stats.editions
    assert (today.day, today.papers) == (DAY, 3)
    assert (today.due, today.sent, today.skipped, today.deferred) == (9, 3, 1, 1)
    assert (today.failed, today.bounced, today.queued) == (1, 1, 2)
    assert (today.first_claim_at, today.last_finish_at) == (at(0), at(200))
    assert today.duration == timedelta(seconds=200)
    assert (yesterday.due, yesterday.sent, yesterday.duration) == (1, 1, timedelta(seconds=5))
    assert stats.deliveries["sent"] == 4
    assert stats.subscribers == {"active": 10}


def test_an_edition_line_reads_like_the_send_summary(sqlite_db: Database) -> None:
    fill_edition(sqlite_db)
    with sqlite_db.session() as session:
        today = collect_stats(session).editions[0]

    assert describe_edition(today) == [
        "  2026-11-25: 3 papers · due 9 · sent 3 · skipped 1 · deferred 1 · failed 1 · "
        "bounced 1 · still queued 2",
        "    first claim 2026-11-25 07:00:00 UTC → last finish 2026-11-25 07:03:20 UTC (3m 20s)",
    ]


def test_an_edition_nobody_was_sent_yet(sqlite_db: Database) -> None:
    with sqlite_db.session() as session:
        session.add(Pool(date=DAY))
    with sqlite_db.session() as session:
        (row,) = collect_stats(session).editions

    assert (row.due, row.duration) == (0, None)
    assert describe_edition(row)[1] == "    not started"


def test_durations_read_naturally() -> None:
    assert format_duration(timedelta(seconds=4.7)) == "4s"
    assert format_duration(timedelta(minutes=3, seconds=5)) == "3m 05s"
    assert format_duration(timedelta(hours=26, minutes=7)) == "26h 07m"


def test_stats_command_prints_each_edition(tmp_path: Path) -> None:
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_MAIL_URL": f"smtp://127.0.0.1:{free_port()}",
    }
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    empty = run(["stats"], env, tmp_path)
    database = Database(env["DIGEST_DATABASE_URL"])
    fill_edition(database)
    with database.session() as session:
        request_subscription(session, "waiting@example.org")
    database.dispose()

    result = run(["stats"], env, tmp_path)

    assert empty.returncode == 0 and "editions: none" in empty.stdout
    assert result.returncode == 0, result.stderr
    assert "subscribers: active 10" in result.stdout
    assert (
        "2026-11-25: 3 papers · due 9 · sent 3 · skipped 1 · deferred 1 · failed 1 · bounced 1"
        in result.stdout
    )
    assert "(3m 20s)" in result.stdout
    assert "2026-11-24: 0 papers · due 1 · sent 1" in result.stdout
    assert (
        "subscriber emails: queued 1 · sending 0 · retrying 0 · sent 0 · nothing to send 0 · "
        "given up 0" in result.stdout
    )
