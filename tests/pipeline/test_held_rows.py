"""Rows another sender holds: `digest send` and `digest stats` say so and when they become
claimable, and `digest send` waits for them and takes over those whose lease runs out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from digest.pipeline.plan import plan_deliveries
from digest.settings import Settings
from digest.store.db import Database
from digest.store.deliveries import DeliveryRecorder, claim_batch, pools_with_work
from tests.cli.command import digest_in_process
from tests.conftest import TEST_SECRET, SmtpSink, run_digest
from tests.factories import begin_sending, make_paper, make_subscriber

DAY = date(2026, 11, 25)


def _held_by_a_dead_sender(db: Database, settings: Settings, readers: int, lease: int) -> None:
    """Queue `readers` editions; another sender claims them all, starts the first message
    and dies (its lease runs `lease` seconds from now)."""
    now = datetime.now(UTC)
    with db.session() as session:
        make_paper(session, listed_on=DAY, upvotes=10)
        for i in range(readers):
            make_subscriber(session, f"held{i}@example.org")
    plan_deliveries(db, settings, now, edition=DAY)
    [(pool_id, _)] = pools_with_work(db, now)
    claims = claim_batch(db, pool_id, now, readers, lease)
    with DeliveryRecorder.open(db) as recorder:
        assert begin_sending(recorder, claims[0], now)


def _env(settings: Settings, smtp_sink: SmtpSink) -> dict[str, str]:
    return {
        "DIGEST_DATABASE_URL": settings.database_url,
        "DIGEST_MAIL_URL": smtp_sink.url,
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_FROM": "Trending Papers <digest@example.org>",
    }


def test_send_without_waiting_names_the_held_rows_and_stats_too(
    sqlite_db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    _held_by_a_dead_sender(sqlite_db, settings, 3, lease=600)
    env = _env(settings, smtp_sink)

    sent = run_digest(["send", "--day", DAY.isoformat(), "--no-wait"], env, tmp_path)
    stats = run_digest(["stats"], env, tmp_path)

    assert sent.returncode == 0, sent.stderr
    assert "3 held by another sender (claimable by" in sent.stdout
    assert smtp_sink.received == []
    assert "3 held by another sender" in stats.stdout


def test_send_waits_for_a_dead_senders_lease_then_sends_each_once(
    sqlite_db: Database,
    settings: Settings,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `digest send` runs in this process: it must find the rows still held, then wait, and
    # a process can take longer than any short lease to start on a loaded machine.
    _held_by_a_dead_sender(sqlite_db, settings, 3, lease=8)
    env = _env(settings, smtp_sink)

    sent = digest_in_process(["send", "--day", DAY.isoformat()], env, tmp_path, monkeypatch)
    stats = run_digest(["stats"], env, tmp_path)

    assert sent.returncode == 0, sent.stderr
    assert "3 held by another sender" in sent.stdout and "waiting" in sent.stdout
    assert "sent 3" in sent.stdout
    received = sorted(rcpt for _, rcpts in smtp_sink.envelopes for rcpt in rcpts)
    assert received == ["held0@example.org", "held1@example.org", "held2@example.org"]
    # The first was in flight when its sender died: it may have arrived twice.
    assert "uncertain: 1" in stats.stdout
    assert "held by" not in stats.stdout
