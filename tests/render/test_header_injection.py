"""A paper title cannot write headers (issue 22): a source item whose title is an encoded
word holding CRLF and header lines goes through fetch, ranking, rendering and SMTP, and
the digest that arrives has exactly our headers, its Subject showing the title as text."""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from digest.pipeline.fetch import fetch_and_store
from digest.pipeline.notices import send_outbox
from digest.pipeline.plan import send_due_now
from digest.settings import Settings
from digest.sources.file import FileSource
from digest.store.db import Database
from digest.store.subscribers import request_subscription
from tests.conftest import free_port
from tests.factories import make_subscriber

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
HOSTILE_TITLE = (
    "=?utf-8?q?Hi=0D=0AReply-To=3A_a=40evil.example=0D=0AX-Injected=3A_yes?= on sparse attention"
)
DIGEST_HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
                  "List-Unsubscribe-Post", "MIME-Version", "Content-Type"]  # fmt: skip


class RawSink:
    """An aiosmtpd handler that keeps each message exactly as it came over the wire."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content)
        return "250 OK"


@contextmanager
def raw_sink() -> Iterator[tuple[RawSink, str]]:
    """A real SMTP server on a free port while the block lasts, and its URL."""
    sink, port = RawSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


def _parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _head_lines(raw: bytes) -> list[bytes]:
    return raw.partition(b"\r\n\r\n")[0].split(b"\r\n")


def test_a_hostile_title_reaches_the_subject_as_text_and_adds_no_header(
    sqlite_db: Database, settings: Settings, tmp_path: Path
) -> None:
    papers = tmp_path / "papers.json"
    items = [
        {"paper": {"id": "2611.00001", "title": HOSTILE_TITLE, "upvotes": 90}},
        {"paper": {"id": "2611.00002", "title": "A calmer paper", "upvotes": 3}},
    ]
    papers.write_text(json.dumps(items), encoding="utf-8")
    assert fetch_and_store(sqlite_db, FileSource(papers), DAY, now=NOW).new == 2
    with sqlite_db.session() as session:
        make_subscriber(session, "reader@example.org")
    with raw_sink() as (sink, url):
        counts = send_due_now(
            sqlite_db, settings.model_copy(update={"mail_url": url}), NOW, edition=DAY
        )

    assert counts.sent == 1
    [raw] = sink.messages
    message = _parsed(raw)
    assert list(message.keys()) == DIGEST_HEADERS  # no Reply-To, no X-Injected
    assert message["Reply-To"] is None and message["X-Injected"] is None
    assert [a.addr_spec for a in message["To"].addresses] == ["reader@example.org"]
    # The template cuts the title at 90 characters, at a word: the encoded word stays text.
    shown = "=?utf-8?q?Hi=0D=0AReply-To=3A_a=40evil.example=0D=0AX-Injected=3A_yes?= on sparse…"
    expected = f"Trending Papers, Wed 25 Nov: {shown}"
    assert str(message["Subject"]) == expected
    subject_raw = raw.split(b"\r\nSubject: ", 1)[1].split(b"\r\nDate: ", 1)[0]
    assert str(make_header(decode_header(subject_raw.decode("ascii").replace("\r\n", "")))) == (
        expected
    )
    assert all(len(line) <= 998 for line in _head_lines(raw))
    assert all(len(line) <= 78 for line in f"Subject: {subject_raw.decode()}".split("\r\n"))


def test_a_hostile_list_name_is_text_in_every_header_of_a_confirmation(
    sqlite_db: Database, settings: Settings
) -> None:
    list_name = "=?utf-8?b?WA0KQmNjOiB2QGV4YW1wbGUub3JnDQoNCg==?= Ünï =?x?q?=0A?="
    with sqlite_db.session() as session:
        request_subscription(session, "new@example.org")
    with raw_sink() as (sink, url):
        send_outbox(
            sqlite_db, settings.model_copy(update={"mail_url": url, "list_name": list_name}), NOW
        )

    [raw] = sink.messages
    message = _parsed(raw)
    assert "Bcc" not in message and message["To"] == "new@example.org"
    assert list(message.keys())[:5] == ["From", "To", "Subject", "Date", "Message-ID"]
    assert str(message["Subject"]) == f"Confirm your subscription to {list_name}"
    assert all(len(line) <= 998 for line in _head_lines(raw))
