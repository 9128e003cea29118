from __future__ import annotations

from datetime import date
from email.utils import parsedate_to_datetime

import pytest

from digest.render.message import build_message, clean_subject, digest_message_id
from digest.settings import Settings
from tests.render.factories import parse, part_text


def test_build_message_is_text_then_html_alternatives(settings: Settings) -> None:
    message = build_message(
        settings.email,
        to="reader@example.com",
        subject="Hello",
        text="plain body\n",
        html="<p>html body</p>\n",
        message_id="<id.1@example.org>",
        headers={"List-Id": settings.list_id},
    )
    parsed = parse(message)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed["From"] == "Trending Papers <digest@example.org>"
    assert parsed["To"] == "reader@example.com"
    assert parsed["Subject"] == "Hello"
    assert parsed["Message-ID"] == "<id.1@example.org>"
    assert parsed["List-Id"] == "Trending Papers <digest.example.org>"
    assert parsedate_to_datetime(parsed["Date"]).tzinfo is not None
    assert part_text(parsed, "plain") == "plain body\n"
    assert part_text(parsed, "html") == "<p>html body</p>\n"


def test_subject_cannot_inject_headers(settings: Settings) -> None:
    hostile = "Evil\r\nBcc: victim@example.com\r\n\r\nbody" + " x" * 5000
    message = build_message(
        settings.email,
        to="reader@example.com",
        subject=hostile,
        text="t\n",
        html="<p>h</p>\n",
        message_id="<id.1@example.org>",
    )
    parsed = parse(message)
    assert parsed["Bcc"] is None
    assert "\r" not in parsed["Subject"] and "\n" not in parsed["Subject"]
    assert parsed["Subject"].startswith("Evil Bcc: victim@example.com body x")
    assert len(parsed["Subject"]) <= 201


def test_clean_subject_drops_control_characters() -> None:
    assert clean_subject("a\x00b\x1b[31mc\u2028d") == "ab[31mc d"


def test_header_values_with_line_breaks_are_refused(settings: Settings) -> None:
    with pytest.raises(ValueError):
        build_message(
            settings.email,
            to="reader@example.com",
            subject="ok",
            text="t\n",
            html="<p>h</p>\n",
            message_id="<id.1@example.org>",
            headers={"List-Id": "x\r\nBcc: victim@example.com"},
        )


def test_non_ascii_survives_a_round_trip(settings: Settings) -> None:
    title = "Über Ünïcödé 注意力 — naïve attention"
    message = build_message(
        settings.email,
        to="reader@example.com",
        subject=title,
        text=f"{title}\n",
        html=f"<p>{title}</p>\n",
        message_id="<id.1@example.org>",
    )
    raw = message.as_bytes()
    assert max(raw) < 128  # everything encoded for a 7-bit SMTP transport
    parsed = parse(message)
    assert parsed["Subject"] == title
    assert part_text(parsed, "plain") == f"{title}\n"
    assert part_text(parsed, "html") == f"<p>{title}</p>\n"


def test_digest_message_id_is_stable_per_subscriber_and_edition(settings: Settings) -> None:
    day = date(2026, 11, 25)
    first = digest_message_id(settings.email, 42, day)
    assert first == digest_message_id(settings.email, 42, day)
    assert first.startswith("<digest.2026-11-25.42.") and first.endswith("@example.org>")
    assert first != digest_message_id(settings.email, 43, day)
    assert first != digest_message_id(settings.email, 42, date(2026, 11, 26))
    other_key = settings.model_copy(update={"secret_key": "another-secret-key-" * 3})
    assert first != digest_message_id(other_key.email, 42, day)
