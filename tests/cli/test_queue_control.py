"""`digest plan` and `digest deliveries release`, run as the installed command: planning
queues without sending; release gives back only the rows of senders whose lease ran out,
and `digest send` then sends each of them once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from digest.pipeline.plan import plan_deliveries
from digest.settings import Settings
from digest.store.db import Database
from digest.store.deliveries import DeliveryRecorder, claim_batch, held_rows, uncertain_rows
from digest.store.pools import find_pool
from tests.cli.command import digest
from tests.conftest import TEST_SECRET, SmtpSink
from tests.factories import begin_sending, make_paper, make_subscriber

DAY = date(2026, 11, 25)
OTHER_DAY = date(2026, 11, 26)
EMPTY_DAY = date(2026, 11, 20)


def _env(settings: Settings, smtp_sink: SmtpSink) -> dict[str, str]:
    return {
        "DIGEST_DATABASE_URL": settings.database_url,
        "DIGEST_MAIL_URL": smtp_sink.url,
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_FROM": "Trending Papers <digest@example.org>",
    }


def _readers(db: Database, days: list[date], count: int) -> list[str]:
    addresses = [f"reader{i}@example.org" for i in range(count)]
    with db.session() as session:
        for day in days:
            make_paper(session, listed_on=day, upvotes=10)
        for address in addresses:
            make_subscriber(session, address)
    return addresses


def _claimed_by_a_sender(db: Database, day: date, claimed_at: datetime, lease: int) -> None:
    """A sender claims the day's queued rows at `claimed_at`, starts the first message and
    stops (its lease runs `lease` seconds from `claimed_at`)."""
    with db.session() as session:
        pool = find_pool(session, day)
        assert pool is not None
        pool_id = pool.id
    claims = claim_batch(db, pool_id, claimed_at, 100, lease)
    with DeliveryRecorder.open(db) as recorder:
        assert begin_sending(recorder, claims[0], claimed_at)


def test_plan_queues_who_is_due_and_sends_nothing(
    sqlite_db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    _readers(sqlite_db, [DAY], 3)
    env = _env(settings, smtp_sink)

    planned = digest(["plan", "--day", DAY.isoformat()], env, tmp_path)
    empty = digest(["plan", "--day", EMPTY_DAY.isoformat()], env, tmp_path)
    stats = digest(["stats"], env, tmp_path)

    assert planned.returncode == 0, planned.stderr
    assert f"{DAY.isoformat()}: queued 3" in planned.stdout
    assert empty.returncode == 0, empty.stderr
    assert f"{EMPTY_DAY.isoformat()}: no papers yet, nobody queued" in empty.stdout
    assert smtp_sink.received == []
    assert "deliveries: pending 3" in stats.stdout, stats.stdout


def test_plan_rejects_a_bad_day_in_one_line(
    sqlite_db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    result = digest(["plan", "--day", "yesterday"], _env(settings, smtp_sink), tmp_path)

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "digest: --day must be a date like 2026-11-25, got 'yesterday'"
    ]


def test_release_frees_a_stopped_senders_rows_and_send_delivers_each_once(
    sqlite_db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    addresses = _readers(sqlite_db, [DAY, OTHER_DAY], 3)
    now = datetime.now(UTC)
    plan_deliveries(sqlite_db, settings, now, edition=DAY)
    plan_deliveries(sqlite_db, settings, now, edition=OTHER_DAY)
    # DAY's sender stopped ten minutes ago; OTHER_DAY's is alive for ten more.
    _claimed_by_a_sender(sqlite_db, DAY, now - timedelta(minutes=11), lease=60)
    _claimed_by_a_sender(sqlite_db, OTHER_DAY, now, lease=600)
    env = _env(settings, smtp_sink)

    only_other = digest(["deliveries", "release", "--day", OTHER_DAY.isoformat()], env, tmp_path)
    released = digest(["deliveries", "release"], env, tmp_path)
    again = digest(["deliveries", "release"], env, tmp_path)
    sent = digest(["send", "--day", DAY.isoformat(), "--no-wait"], env, tmp_path)

    assert only_other.returncode == 0, only_other.stderr
    assert "released 0 rows" in only_other.stdout
    assert released.returncode == 0, released.stderr
    assert "released 3 rows (1 of them were in flight: counted as uncertain)" in released.stdout
    assert "released 0 rows (0 of them were in flight" in again.stdout
    assert sent.returncode == 0, sent.stderr
    assert "sent 3" in sent.stdout
    # The live sender's rows are reported as held, never counted as sent.
    assert "3 held by another sender (claimable by" in sent.stdout
    assert sorted(rcpt for _, rcpts in smtp_sink.envelopes for rcpt in rcpts) == addresses
    assert uncertain_rows(sqlite_db) == 1
    assert held_rows(sqlite_db, datetime.now(UTC)).live == 3


def test_send_reports_rows_a_live_sender_holds_and_sends_none_of_them(
    sqlite_db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    _readers(sqlite_db, [DAY], 2)
    plan_deliveries(sqlite_db, settings, datetime.now(UTC), edition=DAY)
    _claimed_by_a_sender(sqlite_db, DAY, datetime.now(UTC), lease=600)
    env = _env(settings, smtp_sink)

    released = digest(["deliveries", "release", "--day", DAY.isoformat()], env, tmp_path)
    sent = digest(["send", "--day", DAY.isoformat(), "--no-wait"], env, tmp_path)

    assert "released 0 rows" in released.stdout
    assert sent.returncode == 0, sent.stderr
    assert "sent 0" in sent.stdout
    assert "2 held by another sender (claimable by" in sent.stdout
    assert smtp_sink.received == []
