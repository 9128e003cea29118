"""`digest bounces import` on a real Maildir: hostile messages never block the folder."""

from __future__ import annotations

import time
from pathlib import Path

from digest.store.models import SubscriberState
from tests.conftest import run_digest as run
from tests.mail.reports import (
    HOSTILE,
    bare_dsn,
    filed,
    make_maildir,
    multipart_dsn,
)
from tests.pipeline.sent_by_cli import send_sample_edition, subscriber_states


def test_hostile_messages_are_filed_and_the_genuine_report_after_them_is_applied(
    tmp_path: Path,
) -> None:
    env, sent = send_sample_edition(tmp_path, "gone@example.com", "stays@example.com")
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
    assert subscriber_states(env) == {
        "gone@example.com": SubscriberState.BOUNCED,
        "stays@example.com": SubscriberState.ACTIVE,
    }

    again = run(["bounces", "import", str(folder)], env, tmp_path)
    assert again.returncode == 0 and "0 reports" in again.stdout
