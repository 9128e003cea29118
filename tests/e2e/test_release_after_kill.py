"""A real `digest send` killed (SIGKILL) mid-edition: its rows stay held while its lease
lives, `digest deliveries release` then frees them, and the next `digest send` finishes the
edition at once. A real SMTP server counts what every address received: one message each."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.store.db import Database
from digest.store.deliveries import held_rows, uncertain_rows
from tests.cli.command import DIGEST, clean_environment, digest, digest_in_process
from tests.conftest import TEST_SECRET
from tests.e2e.harness import ControlledSink, seed, sent_count, wait_for

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
READERS = 20
STUCK_AT = 6  # the message the server sits on while the sender is killed
# Outlasts the in-process `digest deliveries release` below (starting `digest` as a process
# can take over ten seconds on a loaded machine, so that one runs in the test process).
LEASE_SECONDS = 8
RELEASED = re.compile(r"released (\d+) rows \((\d+) of them were in flight: counted as uncertain\)")


def _released(output: str) -> tuple[int, int]:
    found = RELEASED.search(output)
    assert found, output
    return int(found[1]), int(found[2])


def test_release_after_a_killed_sender_lets_send_finish_the_edition_once_each(
    store: Database,
    postgres_url: str,
    sink: ControlledSink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(store, READERS, TODAY)
    stuck = threading.Event()
    killed = threading.Event()

    def sit_on_one_message(number: int, recipient: str) -> str | None:
        if number != STUCK_AT or stuck.is_set():
            return None
        stuck.set()
        killed.wait(timeout=120)
        return "451 4.3.0 try again later"  # its sender is gone: nothing was accepted

    sink.before_accept = sit_on_one_message
    env = {
        "DIGEST_DATABASE_URL": postgres_url,
        "DIGEST_MAIL_URL": sink.url,
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_BASE_URL": "https://digest.example.org",
        "DIGEST_SEND_LEASE_SECONDS": str(LEASE_SECONDS),
        # A mark per message, so all the server accepted before the kill is recorded and
        # only the message it sits on was in flight.
        "DIGEST_SEND_WINDOW": "1",
    }
    edition = TODAY.date().isoformat()
    sender = subprocess.Popen(
        [str(DIGEST), "send", "--day", edition],
        env=clean_environment(env),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for("the sender to be mid-edition", stuck.is_set)
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait(timeout=30)
    finally:
        killed.set()
        if sender.poll() is None:
            sender.kill()
    delivered_before = sink.accepted
    assert delivered_before == STUCK_AT - 1

    while_held = digest_in_process(
        ["deliveries", "release", "--day", edition], env, tmp_path, monkeypatch
    )
    held = held_rows(store, datetime.now(UTC))
    assert held.live == READERS - delivered_before, "the lease ran out before the check"
    assert _released(while_held.stdout) == (0, 0)

    wait_for(
        "the killed sender's lease to run out",
        lambda: held_rows(store, datetime.now(UTC)).live == 0,
        timeout=LEASE_SECONDS + 30,
    )
    released = digest(["deliveries", "release", "--day", edition], env, tmp_path)
    sent = digest(["send", "--day", edition], env, tmp_path)

    assert released.returncode == 0, released.stderr
    assert _released(released.stdout) == (READERS - delivered_before, 1)
    assert sent.returncode == 0, sent.stderr
    assert "held by" not in sent.stdout and "waiting" not in sent.stdout
    assert f"sent {READERS - delivered_before}" in sent.stdout
    assert sent_count(store) == READERS
    assert uncertain_rows(store) == 1
    assert sorted(sink.by_recipient) == [f"reader{i:05d}@example.org" for i in range(READERS)]
    assert set(sink.by_recipient.values()) == {1}
