"""Old names kept for a release: `--edition` for `--day`, and the renamed environment
variables (digest.settings.RENAMED), through the installed command. Each still works and
says once, on stderr, what to use instead; a new name set beside an old one wins."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from digest.settings import RENAMED, Settings
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
        "DIGEST_MAIL_URL": smtp_sink.url,
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


def test_an_old_environment_name_still_works_with_one_line_of_warning(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}",
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_SMTP_URL": smtp_sink.url,
    }
    assert (
        digest(["db", "upgrade"], {**env, "DIGEST_MAIL_URL": smtp_sink.url}, tmp_path).returncode
        == 0
    )

    added = digest(["subscribers", "add", "new@example.org"], env, tmp_path)

    assert added.returncode == 0, added.stderr
    [warning] = added.stderr.splitlines()
    assert warning.endswith("digest.settings: DIGEST_SMTP_URL is deprecated, use DIGEST_MAIL_URL")
    # The confirmation went where the old name points.
    assert [rcpts for _, rcpts in smtp_sink.envelopes] == [["new@example.org"]]


def test_the_new_name_wins_over_the_old_and_a_bad_old_value_is_named_as_set(
    tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}",
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_MAIL_URL": smtp_sink.url,
        "DIGEST_SMTP_URL": "smtp://127.0.0.1:9",  # nothing listens there
    }
    digest(["db", "upgrade"], env, tmp_path)

    added = digest(["subscribers", "add", "new@example.org"], env, tmp_path)
    bad = digest(["stats"], {"DIGEST_CANDIDATE_DAYS": "many"}, tmp_path)

    assert added.returncode == 0 and added.stderr == ""
    assert [rcpts for _, rcpts in smtp_sink.envelopes] == [["new@example.org"]]
    assert bad.returncode != 0
    warning, error = bad.stderr.splitlines()
    assert warning.endswith("DIGEST_CANDIDATE_DAYS is deprecated, use DIGEST_POOL_DAYS")
    assert error == (
        "digest: invalid configuration: DIGEST_CANDIDATE_DAYS: Input should be a valid"
        " integer, unable to parse string as an integer"
    )


def test_each_old_name_sets_its_new_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"mail_url": "console:", "pool_size": "40", "pool_days": "3", "archive_papers": "6"}
    for old, field in RENAMED.items():
        monkeypatch.setenv(old, values[field])
    monkeypatch.delenv("DIGEST_MAIL_URL", raising=False)

    settings = Settings()

    assert (settings.delivery.mail_url, settings.web.archive_papers) == ("console:", 6)
    assert (settings.ranking.pool_size, settings.ranking.pool_days) == (40, 3)
