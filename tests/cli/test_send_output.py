"""What `digest send` and `digest demo` print: a bar on a terminal, whole lines off one."""

from __future__ import annotations

import os
import pty
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.store.db import Database
from digest.store.subscribers import request_subscription
from tests.cli.command import DIGEST, clean_environment, digest
from tests.conftest import TEST_SECRET, SmtpSink, free_port

READERS = ["ada@example.org", "grace@example.org", "lab-list@example.org"]


@pytest.fixture
def ready_to_send(tmp_path: Path, smtp_sink: SmtpSink) -> dict[str, str]:
    """A migrated database with today's sample papers and three confirmed readers."""
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}",
        "DIGEST_MAIL_URL": smtp_sink.url,
        "DIGEST_SECRET_KEY": TEST_SECRET,
    }
    today = datetime.now(UTC).date().isoformat()
    steps = [["db", "upgrade"], ["fetch", "--source", "sample", "--date", today]]
    steps += [["subscribers", "add", email, "--confirmed", "--send-hour", "0"] for email in READERS]
    for step in steps:
        done = digest(step, env, tmp_path)
        assert done.returncode == 0, done.stderr
    return {**env, "TODAY": today}


def test_send_off_a_terminal_prints_plain_lines_with_the_total(
    ready_to_send: dict[str, str], tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    sent = digest(["send", "--day", ready_to_send["TODAY"]], ready_to_send, tmp_path)
    assert sent.returncode == 0, sent.stderr
    lines = sent.stdout.splitlines()
    assert lines[0] == "sending: 3 planned"
    assert "sending: 3/3" in lines
    summary = "due 3 · sent 3 · nothing new for 0 · skipped 0 · deferred 0 · bounced 0 · failed 0"
    assert summary in lines  # one line of 84 characters, not wrapped at 80
    assert "\x1b[" not in sent.stdout  # no terminal codes in a pipe or a file
    assert len(smtp_sink.received) == 3


def test_send_also_sends_what_the_outbox_holds_in_the_same_run(
    ready_to_send: dict[str, str], tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    store = Database(ready_to_send["DIGEST_DATABASE_URL"])
    with store.session() as session:
        request_subscription(session, "newcomer@example.org")
    store.dispose()

    sent = digest(["send", "--day", ready_to_send["TODAY"]], ready_to_send, tmp_path)

    assert sent.returncode == 0, sent.stderr
    line = "subscriber emails: sent 1 · retrying 0 · given up 0 · nothing to send 0"
    assert line in sent.stdout.splitlines()
    assert len(smtp_sink.messages_to("newcomer@example.org")) == 1
    assert len(smtp_sink.received) == 4  # the three digests and the confirmation


def test_send_on_a_terminal_shows_a_bar_with_the_real_total(
    ready_to_send: dict[str, str], tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(DIGEST), "send", "--day", ready_to_send["TODAY"]],
        env=clean_environment({**ready_to_send, "COLUMNS": "120", "TERM": "xterm"}),
        cwd=tmp_path,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0, shown.decode(errors="replace")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode(errors="replace"))  # colours
    assert "sending" in text and "3/3" in text  # the bar counted up to the planned total
    assert "sending: 3 planned" not in text  # the plain lines are for pipes only
    assert "sent 3" in text
    assert len(smtp_sink.received) == 3


def test_the_demo_prints_long_paths_whole(tmp_path: Path) -> None:
    folder = tmp_path / ("a-folder-with-a-rather-long-name-" * 3) / "digest-demo"
    env = {"DIGEST_HF_API_URL": f"http://127.0.0.1:{free_port()}"}  # offline: sample papers
    result = digest(["demo", "--dir", str(folder)], env, tmp_path)
    assert result.returncode == 0, result.stderr
    links = [line for line in result.stdout.splitlines() if "file://" in line]
    assert len(links) == 1
    newest = Path(links[0].split("file://", 1)[1])
    assert newest.is_file() and newest.parent == folder / "mail"
    assert f"  database      sqlite:///{folder / 'digest.db'}" in result.stdout.splitlines()
