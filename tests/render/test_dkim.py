from __future__ import annotations

import re
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dkim
import pytest
from aiosmtpd.controller import Controller

from digest.errors import ConfigError
from digest.render import DigestRenderer, render_digest
from digest.render.dkim import DkimSigner, load_key
from digest.settings import Settings
from tests.conftest import free_port
from tests.render.factories import (
    dkim_test_key,
    make_entry,
    parse,
    render_confirmation,
    signing_settings,
)

EDITION = date(2026, 11, 25)
READER = "reader@example.com"
REQUIRED_SIGNED = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
}


def _tags(raw: bytes) -> dict[str, str]:
    header = re.search(rb"^DKIM-Signature:(.*?)\r\n(?![ \t])", raw, re.M | re.S)
    assert header is not None
    value = re.sub(r"\s+", "", header.group(1).decode("ascii"))
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


def _verify(raw: bytes) -> bool:
    return bool(dkim.verify(raw, dnsfunc=dkim_test_key().dns))


def test_digest_signature_verifies_and_covers_the_required_headers(
    settings: Settings, tmp_path: Path
) -> None:
    signing = signing_settings(settings, tmp_path, unsubscribe_mailbox="leave@example.org")
    entries = [make_entry(1, title="Über <script> 注意力")]
    message = render_digest(
        signing.email, subscriber_id=42, email=READER, edition_date=EDITION, entries=entries
    )
    raw = message.as_bytes()
    assert raw.startswith(b"DKIM-Signature:")  # topmost, as RFC 6376 asks
    assert _verify(raw)
    tags = _tags(raw)
    assert tags["d"] == "example.org" and tags["s"] == "s1" and tags["a"] == "rsa-sha256"
    assert tags["c"] == "relaxed/relaxed"
    assert set(tags["h"].lower().split(":")) >= REQUIRED_SIGNED
    parse(message)  # still a strictly valid message


def test_changing_a_signed_header_or_the_body_breaks_the_signature(
    settings: Settings, tmp_path: Path
) -> None:
    signing = signing_settings(settings, tmp_path)
    raw = render_digest(
        signing.email, subscriber_id=42, email=READER, edition_date=EDITION, entries=[make_entry(1)]
    ).as_bytes()
    assert _verify(raw)
    assert not _verify(raw.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"X: y"))
    assert not _verify(raw.replace(b"Paper ranked 1", b"Paper ranked 9"))
    head, body = raw.split(b"\r\n\r\n", 1)
    added = head + b"\r\nList-Unsubscribe: <https://evil.example/>\r\n\r\n" + body
    assert not _verify(added)  # oversigned: a second copy cannot be slipped in


@dataclass
class RawSink:
    """An SMTP server that keeps the exact bytes it received."""

    received: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.received.append(envelope.original_content)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def raw_sink() -> Iterator[tuple[RawSink, int]]:
    sink, port = RawSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def test_signatures_survive_a_real_smtp_hop(
    settings: Settings, tmp_path: Path, raw_sink: tuple[RawSink, int]
) -> None:
    sink, port = raw_sink
    renderer = DigestRenderer(signing_settings(settings, tmp_path).email, EDITION)
    entries = [make_entry(1, title='Ünïcödé 注意力 "q"'), make_entry(2, why="You follow cs.LG")]
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        for subscriber_id in (1, 2):
            email = f"r{subscriber_id}@example.com"
            client.send_message(
                renderer.render(subscriber_id=subscriber_id, email=email, entries=entries)
            )
        client.send_message(
            render_confirmation(renderer.settings, subscriber_id=3, email="new@example.com")
        )
    assert len(sink.received) == 3
    assert all(_verify(raw) for raw in sink.received)


def test_no_signature_without_configuration(settings: Settings) -> None:
    raw = render_digest(
        settings.email,
        subscriber_id=42,
        email=READER,
        edition_date=EDITION,
        entries=[make_entry(1)],
    ).as_bytes()
    assert b"DKIM-Signature" not in raw


def test_half_a_configuration_or_a_bad_key_is_refused(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="both"):
        load_key(settings.model_copy(update={"dkim_selector": "s1"}).email)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="not an RSA private key"):
        DigestRenderer(
            settings.model_copy(update={"dkim_key_file": garbage, "dkim_selector": "s2"}).email,
            EDITION,
        )
    with pytest.raises(ConfigError, match="cannot be read"):
        DkimSigner.from_settings(
            settings.model_copy(
                update={"dkim_key_file": tmp_path / "missing.pem", "dkim_selector": "s3"}
            ).email
        )


def test_the_published_record_matches_the_key(settings: Settings, tmp_path: Path) -> None:
    key = load_key(signing_settings(settings, tmp_path).email)
    assert key is not None and key.bits == 2048
    signed = render_digest(
        signing_settings(settings, tmp_path).email,
        subscriber_id=1,
        email=READER,
        edition_date=EDITION,
        entries=[make_entry(1)],
    ).as_bytes()
    record = key.public_record().encode("ascii")
    assert dkim.verify(signed, dnsfunc=lambda *_, **__: record)
