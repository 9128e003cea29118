"""`digest bounces import` on a real Maildir: hostile messages never block the folder."""

from __future__ import annotations

import time
from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import select

from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from tests.conftest import TEST_SECRET
from tests.conftest import run_digest as run
from tests.mail.reports import (
    DAY,
    HOSTILE,
    RETURN_PATH,
    bare_dsn,
    filed,
    make_maildir,
    multipart_dsn,
)


def test_hostile_messages_are_filed_and_the_genuine_report_after_them_is_applied(
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "sent"
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_MAIL_URL": f"file://{outbox}",
        "DIGEST_FROM": "Trending Papers <digest@example.org>",
        "DIGEST_RETURN_PATH": RETURN_PATH,
    }
    for step in (
        ["db", "upgrade"],
        ["subscribers", "add", "gone@example.com", "--confirmed"],
        ["subscribers", "add", "stays@example.com", "--confirmed"],
        ["fetch", "--source", "sample", "--date", DAY.isoformat()],
        ["send", "--day", DAY.isoformat()],
    ):
        done = run(step, env, tmp_path)
        assert done.returncode == 0, (step, done.stderr)
    sent = {}
    for path in outbox.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        sent[str(message["To"])] = message
    gone, stays = sent["gone@example.com"], sent["stays@example.com"]
    folder = make_maildir(
        tmp_path / "bounces",
        *(build() for build in HOSTILE.values()),
        multipart_dsn("gone@example.com", str(gone["Message-ID"])),
        # A forgery about the other subscriber, after the genuine report.
        bare_dsn("stays@example.com"),
        # And that subscriber's own return path, naming someone else.
        bare_dsn("gone@example.com", delivered_to=str(stays["Return-Path"]).strip("<>")),
    )

    started = time.monotonic()
    imported = run(["bounces", "import", str(folder)], env, tmp_path)
    elapsed = time.monotonic() - started

    assert imported.returncode == 0, imported.stderr
    assert "Traceback" not in imported.stderr
    assert f"{len(HOSTILE) + 3} reports: 1 bounced" in imported.stdout
    # The huge one begins with a report about an address we do not know; the two forgeries
    # are unmatched.
    assert "0 already suppressed, 1 unknown, 2 unmatched" in imported.stdout
    assert f"{len(HOSTILE) - 1} unreadable" in imported.stdout
    assert len(filed(folder)) == len(HOSTILE) + 3
    assert elapsed < 60, f"the import took {elapsed:.1f} s"  # a process start and a few reads
    database = Database(env["DIGEST_DATABASE_URL"])
    with database.session() as session:
        rows = session.execute(select(Subscriber.email, Subscriber.state))
        states = {email: state for email, state in rows}
    database.dispose()
    assert states == {
        "gone@example.com": SubscriberState.BOUNCED,
        "stays@example.com": SubscriberState.ACTIVE,
    }

    again = run(["bounces", "import", str(folder)], env, tmp_path)
    assert again.returncode == 0 and "0 reports" in again.stdout
