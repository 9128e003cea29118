"""The bytes `render_wire` writes straight from the cached fragments are the message `render`
builds, byte for byte, and a strict parser reads them as a correct multipart/alternative."""

from __future__ import annotations

import binascii
import email
from dataclasses import replace
from datetime import date
from email import policy
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest
from freezegun import freeze_time
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from digest.papers import EditionEntry
from digest.render import DigestRenderer
from digest.render.mime import encode_body_bytes
from digest.settings import Settings
from tests.render.factories import dkim_test_key, make_entry, part_text, signing_settings

EDITION = date(2026, 11, 25)
HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
           "List-Unsubscribe-Post", "MIME-Version", "Content-Type")  # fmt: skip

EDITIONS: dict[str, list[EditionEntry]] = {
    "none": [],
    "one": [make_entry(1)],
    "ten, half with a reason": [
        make_entry(rank, why=f"You follow topic {rank}" * (rank % 2)) for rank in range(10, 0, -1)
    ],
    "hostile text": [
        make_entry(1, title='Ünïcödé 注意力 <b>bold</b> "quoted"\u2028', why="“attention” & <x>"),
        make_entry(2, abstract=".leading dot\n.\nFrom the start\r\nand a bare \r too " * 30),
        make_entry(3, title="x" * 400, code_url=None, stars=None, why="é" * 300),
    ],
}


def _parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.strict)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize("weekly", [False, True])
@pytest.mark.parametrize("edition", list(EDITIONS))
def test_wire_bytes_are_what_the_email_package_serialises(
    settings: Settings, edition: str, weekly: bool
) -> None:
    local = settings.model_copy(update={"unsubscribe_mailbox": "leave@example.org"})
    renderer = DigestRenderer(local.email, EDITION, weekly=weekly)
    entries = EDITIONS[edition]
    reader = "o'neil+digest@example.com"
    with freeze_time("2026-11-25 07:00:00"):
        message = renderer.render(subscriber_id=42, email=reader, entries=entries)
        wire = renderer.render_wire(subscriber_id=42, email=reader, entries=entries)

    assert wire.data == message.as_bytes()
    assert wire.message_id == message["Message-ID"]
    parsed = _parsed(wire.data)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert [name for name, _ in parsed.items()] == list(HEADERS)
    for name in HEADERS:
        assert parsed[name] == message[name], name
    assert [a.addr_spec for a in parsed["To"].addresses] == [reader]
    for subtype in ("plain", "html"):
        assert part_text(parsed, subtype) == part_text(message, subtype)
    assert wire.data.isascii()  # 7-bit clean: quoted-printable or character references
    assert all(len(line) <= 998 for line in wire.data.split(b"\r\n"))
    assert b"\n" not in wire.data.replace(b"\r\n", b"")


def test_wire_bytes_are_signed_and_verify(settings: Settings, tmp_path: Path) -> None:
    signing = signing_settings(settings, tmp_path, unsubscribe_mailbox="leave@example.org")
    renderer = DigestRenderer(signing.email, EDITION)
    entries = [replace(entry, why="Because") for entry in EDITIONS["ten, half with a reason"]]
    wire = renderer.render_wire(subscriber_id=7, email="reader@example.org", entries=entries)
    assert wire.data.startswith(b"DKIM-Signature:")
    assert dkim.verify(wire.data, dnsfunc=dkim_test_key().dns)
    assert _parsed(wire.data)["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_address_that_needs_smtputf8_is_left_to_render(settings: Settings) -> None:
    renderer = DigestRenderer(settings.email, EDITION)
    with pytest.raises(ValueError, match="SMTPUTF8"):
        renderer.render_wire(subscriber_id=1, email="üser@example.org", entries=[make_entry(1)])


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("An ASCII digest\nwith short lines\n", "7bit"),
        ("Ünïcödé authors\n", "quoted-printable"),
        ("a line longer than SMTP allows " * 40 + "\n", "quoted-printable"),
    ],
)
def test_a_plain_text_part_is_sent_as_is_only_when_ascii_with_short_lines(
    text: str, encoding: str
) -> None:
    used, payload = encode_body_bytes("plain", text)
    assert used == encoding
    head = f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {used}\r\n"
    decoded = email.message_from_bytes(head.encode() + b"\r\n" + payload, policy=policy.default)
    assert isinstance(decoded, EmailMessage) and decoded.get_content() == text


lines = st.lists(
    st.sampled_from(
        [*"ab =\t.é注\n\x0b\u2028", "x" * 80, "y" * 75, "z" * 76, " \n", "\t\n", "=\n"]
    ),
    max_size=80,
).map("".join)


@hypothesis_settings(max_examples=2000, deadline=None)
@given(lines)
def test_quoted_printable_a_line_at_a_time_is_that_of_the_whole_text(text: str) -> None:
    """Lines shared by every reader's copy are encoded once; the bytes must not change."""
    _, payload = encode_body_bytes("plain", "é" + text)
    assert payload == binascii.b2a_qp(("é" + text).encode(), istext=True)
