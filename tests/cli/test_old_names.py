"""Old names kept for a release: `--edition` for `--day`, run as the installed command. Each
still works and says once, on stderr, what to use instead."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from digest.settings import Settings
from digest.store.db import Database
from tests.cli.command import digest
from tests.conftest import TEST_SECRET, SmtpSink
from tests.factories import make_paper, make_subscriber

DAY = date(2026, 11, 25)
DEPRECATED = "digest: --edition is deprecated, use --day"


def test_edition_still_names_the_day_with_one_line_of_warning(
    sqlite_db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    with sqlite_db.session() as session:
        make_paper(session, listed_on=DAY, upvotes=10)
        for number in range(2):
            make_subscriber(session, f"reader{number}@example.org")
    env = {
        "DIGEST_DATABASE_URL": settings.database_url,
        "DIGEST_SMTP_URL": smtp_sink.url,
        "DIGEST_SECRET_KEY": TEST_SECRET,
    }

    planned = digest(["plan", "--edition", DAY.isoformat()], env, tmp_path)
    previewed = digest(
        ["preview", "reader0@example.org", "--edition", DAY.isoformat()], env, tmp_path
    )
    released = digest(["deliveries", "release", "--edition", DAY.isoformat()], env, tmp_path)
    sent = digest(["send", "--edition", DAY.isoformat()], env, tmp_path)
    again = digest(["send", "--day", DAY.isoformat()], env, tmp_path)

    for result in (planned, previewed, released, sent):
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines() == [DEPRECATED]
    assert f"{DAY.isoformat()}: queued 2" in planned.stdout
    assert "Wednesday 25 November 2026" in previewed.stdout
    assert "released 0 rows" in released.stdout
    assert "sent 2" in sent.stdout
    assert len(smtp_sink.received) == 2
    assert again.returncode == 0 and again.stderr == ""  # the new name warns of nothing
    assert "sent 0" in again.stdout
