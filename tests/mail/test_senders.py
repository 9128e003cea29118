"""Senders chosen by DIGEST_MAIL_URL: SMTP, a folder of .eml files, or the console."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.mail.envelope import Envelope
from digest.mail.senders import ConsoleSender, FolderSender, open_sender
from digest.mail.smtp import SmtpSender
from digest.pipeline.plan import send_due_now
from digest.settings import Settings, load_settings
from digest.store.db import Database
from tests.factories import make_paper, make_subscriber
from tests.render.factories import render_confirmation

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def test_the_scheme_chooses_the_sender(tmp_path: Path) -> None:
    assert isinstance(open_sender("smtp://127.0.0.1:2525"), SmtpSender)
    assert isinstance(open_sender("smtps://mail.example.org"), SmtpSender)
    assert isinstance(open_sender(f"file://{tmp_path}/mail"), FolderSender)
    assert isinstance(open_sender("console:"), ConsoleSender)
    with pytest.raises(ConfigError, match="file:///folder or console:"):
        open_sender("ftp://mail.example.org")


@pytest.mark.parametrize(
    "url", ["ftp://mail.example.org", "file://host/folder", "smtp://", "mail.example.org:25"]
)
def test_settings_refuse_an_address_no_sender_understands(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_MAIL_URL", url)
    with pytest.raises(ConfigError, match="DIGEST_MAIL_URL"):
        load_settings()


def test_the_folder_keeps_each_message_as_eml_and_html(settings: Settings, tmp_path: Path) -> None:
    message = render_confirmation(settings.email, subscriber_id=7, email="reader@example.com")
    with open_sender(f"file://{tmp_path}/mail") as sender:
        sender.send(message, Envelope("bounces@example.org", "reader@example.com"))
    [eml] = sorted((tmp_path / "mail").glob("*.eml"))
    kept = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert kept["To"] == "reader@example.com"
    assert kept["Message-ID"] == message["Message-ID"]
    assert kept["Return-Path"] == "<bounces@example.org>"
    [html] = sorted((tmp_path / "mail").glob("*.html"))
    assert "/confirm?token=" in html.read_text(encoding="utf-8")


def test_the_console_prints_the_whole_message(settings: Settings) -> None:
    stream = io.StringIO()
    message = render_confirmation(settings.email, subscriber_id=7, email="reader@example.com")
    with ConsoleSender(stream) as sender:
        sender.send(message, Envelope("bounces@example.org", "reader@example.com"))
    printed = stream.getvalue()
    assert "To: reader@example.com" in printed
    assert f"Message-ID: {message['Message-ID']}" in printed


def test_an_edition_sent_to_a_folder_is_recorded_like_one_sent_over_smtp(
    db: Database, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    with db.session() as session:
        for upvotes in (40, 10):
            make_paper(session, listed_on=DAY, upvotes=upvotes)
        for name in ("ada", "grace"):
            make_subscriber(session, f"{name}@example.org")
    to_folder = settings.model_copy(
        update={"database_url": database_url, "mail_url": f"file://{tmp_path}/outbox"}
    )

    counts = send_due_now(db, to_folder, NOW, edition=DAY)

    assert (counts.due, counts.sent) == (2, 2)
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    recipients = sorted(
        str(message_from_bytes(f.read_bytes(), policy=policy.default)["To"]) for f in files
    )
    assert recipients == ["ada@example.org", "grace@example.org"]
    assert send_due_now(db, to_folder, NOW, edition=DAY).sent == 0  # once each
