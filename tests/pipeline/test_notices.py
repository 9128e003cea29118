"""Subscriber emails by kind: a new kind needs only its function and its templates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from digest import links
from digest.pipeline.kinds import KINDS, Notice, Recipient, UnknownKind, email_kind
from digest.pipeline.notices import queue_notice, send_outbox
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from tests.conftest import SmtpSink
from tests.web.support import add

TEMPLATES = {
    "subject.txt": "Welcome to {{ list_name }}, {{ first_name }}",
    "body.txt": "Hello {{ first_name }}.\nYour preferences: {{ preferences_url }}\n",
    "body.html": (
        '{% extends "email/base.html" %}\n'
        "{% block title %}Welcome{% endblock %}\n"
        "{% block content %}<p>Hello {{ first_name }}.</p>"
        '<p><a href="{{ preferences_url }}">Preferences</a></p>{% endblock %}\n'
        "{% block footer %}<p>Sent to {{ email }}.</p>{% endblock %}\n"
    ),
}


@pytest.fixture
def welcome_kind(tmp_path: Path) -> Iterator[Path]:
    """A kind the product does not have: one function here, three templates in a folder."""
    declared = dict(KINDS)
    folder = tmp_path / "templates" / "email" / "welcome"
    folder.mkdir(parents=True)
    for name, text in TEMPLATES.items():
        (folder / name).write_text(text, encoding="utf-8")

    @email_kind("welcome", for_states=(SubscriberState.ACTIVE,))
    def welcome(to: Recipient) -> Notice:
        return Notice(
            {
                "first_name": to.email.split("@")[0].title(),
                "preferences_url": links.preferences_url(to.settings, to.subscriber_id, to.email),
            }
        )

    yield tmp_path / "templates"
    KINDS.clear()
    KINDS.update(declared)


def test_a_new_kind_is_sent_through_the_real_smtp_server(
    sqlite_db: Database, settings: Settings, smtp_sink: SmtpSink, welcome_kind: Path
) -> None:
    own = settings.model_copy(update={"template_dir": welcome_kind})
    reader = add(sqlite_db, "ada@example.org", SubscriberState.ACTIVE)

    queue_notice(sqlite_db, "welcome", reader.id)
    assert send_outbox(sqlite_db, own).sent == [("welcome", reader.id)]

    [message] = smtp_sink.messages_to("ada@example.org")
    assert message["Subject"] == "Welcome to Trending Papers, Ada"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and "/preferences?token=" in str(text.get_content())
    # On the shared layout, CSS inlined like every other email.
    assert html is not None and "Hello Ada." in str(html.get_content())
    assert 'style="' in str(html.get_content())


def test_a_kind_is_sent_only_while_the_subscriber_is_in_its_state(
    sqlite_db: Database, settings: Settings, smtp_sink: SmtpSink, welcome_kind: Path
) -> None:
    own = settings.model_copy(update={"template_dir": welcome_kind})
    pending = add(sqlite_db, "pending@example.org", SubscriberState.PENDING)

    queue_notice(sqlite_db, "welcome", pending.id)
    report = send_outbox(sqlite_db, own)
    assert (report.sent, report.skipped) == ([], 1)
    assert smtp_sink.messages_to("pending@example.org") == []


def test_an_unknown_kind_is_refused_before_anything_is_sent(
    sqlite_db: Database, settings: Settings
) -> None:
    reader = add(sqlite_db, "ada@example.org", SubscriberState.ACTIVE)
    with pytest.raises(UnknownKind, match="no email kind 'farewell'"):
        queue_notice(sqlite_db, "farewell", reader.id)
