from __future__ import annotations

import base64
import re
import smtplib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from digest.errors import ConfigError
from digest.render import DigestRenderer, render_digest
from digest.render.dkim import CANONICALIZATION, SIGNED_HEADERS, DkimKey, DkimSigner, load_key
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


def _signer(domain: str = "example.org") -> DkimSigner:
    pem = dkim_test_key().pem
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return DkimSigner(DkimKey("s1", domain, pem, key.key_size, key))


def _message(subject: str, body: str, **headers: str) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = "Trending Papers <digest@example.org>"
    message["To"] = READER
    message["Subject"] = subject
    message["Date"] = "Wed, 25 Nov 2026 07:00:00 +0000"
    message["Message-ID"] = "<edition-1@example.org>"
    message["List-Unsubscribe"] = "<https://digest.example.org/u/token>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in headers.items():
        del message[name.replace("_", "-")]
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def _signature_header(raw: bytes) -> list[bytes]:
    header = re.search(rb"^DKIM-Signature:.*?\r\n(?![ \t])", raw, re.M | re.S)
    assert header is not None
    return header.group(0).split(b"\r\n")[:-1]


@pytest.mark.parametrize("form", ["PKCS8", "TraditionalOpenSSL"])
def test_pkcs8_and_pkcs1_keys_load_and_sign(settings: Settings, tmp_path: Path, form: str) -> None:
    key = serialization.load_pem_private_key(dkim_test_key().pem, password=None)
    path = tmp_path / f"{form}.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            getattr(serialization.PrivateFormat, form),
            serialization.NoEncryption(),
        )
    )
    loaded = load_key(
        settings.model_copy(update={"dkim_key_file": path, "dkim_selector": "s1"}).email
    )
    assert loaded is not None and loaded.bits == 2048
    assert loaded.public_record().encode("ascii") != dkim_test_key().record  # PKCS#1 p=
    raw = DkimSigner(loaded).sign(_message("Hello", "Body\n")).as_bytes()
    assert dkim.verify(raw, dnsfunc=lambda *_, **__: loaded.public_record().encode("ascii"))
    assert _verify(raw)  # the same key published as SubjectPublicKeyInfo verifies too


def test_an_encrypted_or_non_rsa_key_is_refused(settings: Settings, tmp_path: Path) -> None:
    rsa_key = serialization.load_pem_private_key(dkim_test_key().pem, password=None)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    elliptic = tmp_path / "ec.pem"
    elliptic.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    for path, selector in ((encrypted, "e1"), (elliptic, "e2")):
        with pytest.raises(ConfigError, match="not an RSA private key"):
            load_key(
                settings.model_copy(update={"dkim_key_file": path, "dkim_selector": selector}).email
            )


def test_a_domain_that_is_not_ascii_is_refused(settings: Settings, tmp_path: Path) -> None:
    unicode_from = signing_settings(settings, tmp_path, from_address="D <d@bücher.example>")
    with pytest.raises(ConfigError, match="xn--"):
        load_key(unicode_from.email)
    punycode = unicode_from.model_copy(update={"dkim_domain": "xn--bcher-kva.example"})
    key = load_key(punycode.email)
    assert key is not None and key.domain == "xn--bcher-kva.example"


def test_the_header_is_7bit_short_lined_and_stamped() -> None:
    signer = _signer()
    before = int(time.time())
    raw = signer.sign(_message("Über " * 40, "x\n")).as_bytes()
    lines = _signature_header(raw)
    assert len(lines) > 3 and all(len(line) <= 78 and line.isascii() for line in lines)
    tags = _tags(raw)
    assert before <= int(tags["t"]) <= time.time()
    assert tags["v"] == "1" and tags["i"] == "@example.org" and tags["q"] == "dns/txt"
    assert tags["h"] == ":".join(name.lower() for name in SIGNED_HEADERS)
    assert len(base64.b64decode(tags["b"])) == 256  # 2048 bits
    assert _verify(raw)


def test_folded_long_and_encoded_headers_and_a_ragged_body_verify() -> None:
    message = _message(
        "Ünïcödé 注意力 — " + "a rather long subject that has to be folded " * 4,
        "trailing spaces   \n\ttabs\t\tinside \n\n  indented\n" + "long " * 300 + "\n\n\n\n",
        To=", ".join(f'"Reader Number {n} Ä" <r{n}@example.com>' for n in range(8)),
        List_Id="Trending Papers <trending.example.org>",
    )
    raw = _signer().sign(message).as_bytes()
    assert b"=?utf-8?" in raw and re.search(rb"^Subject:.*\r\n ", raw, re.M)
    assert _verify(raw)


def _refold(raw: bytes) -> bytes:
    """What a rough relay does: re-folds every header (this one included) at other spaces,
    changes the case of names and the runs of whitespace, and trims trailing spaces."""
    head, body = raw.split(b"\r\n\r\n", 1)
    fields = re.split(rb"\r\n(?![ \t])", head)
    out = []
    for line in fields:
        name, _, value = line.partition(b":")
        words = value.replace(b"\r\n", b"").split()
        folded = b"".join(
            word + (b"\r\n\t" if index % 3 == 2 else b" \t ") for index, word in enumerate(words)
        )
        out.append(name.upper() + b":  " + folded.rstrip(b" \t\r\n"))
    body = re.sub(rb"[ \t]+\r\n", b"\r\n", body).replace(b" ", b"  ") + b"\r\n\r\n"
    return b"\r\n".join(out) + b"\r\n\r\n" + body


def test_a_relay_that_refolds_headers_keeps_it_valid(settings: Settings, tmp_path: Path) -> None:
    signing = signing_settings(settings, tmp_path)
    entries = [make_entry(1, title="Über " + "long title " * 20), make_entry(2)]
    raw = render_digest(
        signing.email, subscriber_id=7, email=READER, edition_date=EDITION, entries=entries
    ).as_bytes()
    relayed = _refold(raw)
    assert relayed != raw and b"SUBJECT:" in relayed
    assert _verify(relayed)
    assert not _verify(_refold(raw.replace(b"Paper ranked 2", b"Paper ranked 3")))


@pytest.mark.parametrize(
    ("name", "value", "verifies"),
    [
        ("List-Unsubscribe", "<https://evil.example/u>", (False, False)),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click", (False, False)),
        ("Subject", "You won", (False, False)),
        ("From", "Mallory <m@evil.example>", (False, False)),
        # Signed once: h= covers the bottom-most copy, so only a copy above it slips in.
        ("To", "another@example.com", (True, False)),
        ("X-Relay", "added in transit", (True, True)),  # not signed
    ],
)
def test_only_oversigned_headers_refuse_a_copy_added_anywhere(
    name: str, value: str, verifies: tuple[bool, bool]
) -> None:
    raw = _signer().sign(_message("Today's papers", "Body\n")).as_bytes()
    assert _verify(raw)
    head, body = raw.split(b"\r\n\r\n", 1)
    added = f"{name}: {value}".encode()
    above = added + b"\r\n" + head + b"\r\n\r\n" + body
    below = head + b"\r\n" + added + b"\r\n\r\n" + body
    assert (_verify(above), _verify(below)) == verifies


def test_sign_bytes_puts_the_header_on_top_of_the_same_bytes() -> None:
    signer = _signer()
    raw = _message("Bytes", "Body\n").as_bytes()
    signed = signer.sign_bytes(raw, timestamp=1_790_000_000)
    assert signed.startswith(b"DKIM-Signature: ") and signed.endswith(raw)
    assert _tags(signed)["t"] == "1790000000"
    assert _verify(signed)
    assert signer.sign_bytes(raw, timestamp=1_790_000_000) == signed  # PKCS#1 v1.5: no nonce


def test_a_body_without_a_final_line_end_verifies_as_smtp_delivers_it() -> None:
    raw = b"From: a@example.org\r\nSubject: s\r\n\r\nlast line, trailing space \t"
    signed = _signer().sign_bytes(raw)
    assert _verify(signed + b"\r\n")  # smtplib and every MTA end DATA with a CRLF


HEADER_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
    min_size=1,
    max_size=120,
)
BODY_LINE = st.lists(
    st.sampled_from(["a", "b", " ", "  ", "\t", ".", "é", "注", "-", "=", "long" * 30]),
    max_size=30,
).map("".join)


@dataclass(frozen=True)
class Shape:
    subject: str
    display: str
    lines: tuple[str, ...]
    extra: tuple[tuple[str, str], ...]
    html: bool
    lf: bool


SHAPES = st.builds(
    Shape,
    subject=HEADER_TEXT,
    display=HEADER_TEXT,
    lines=st.lists(BODY_LINE, max_size=40).map(tuple),
    extra=st.lists(
        st.tuples(st.sampled_from(["List-Id", "X-Note", "Reply-To", "Keywords"]), HEADER_TEXT),
        max_size=3,
        unique_by=lambda pair: pair[0],
    ).map(tuple),
    html=st.booleans(),
    lf=st.booleans(),
)


@hypothesis_settings(max_examples=40, deadline=None)
@given(SHAPES)
def test_dkimpy_verifies_every_message_we_sign(shape: Shape) -> None:
    message = EmailMessage(policy=policy.SMTP if not shape.lf else policy.default)
    message["From"] = Address(shape.display, "digest", "example.org")
    message["To"] = READER
    message["Subject"] = shape.subject
    message["Date"] = "Wed, 25 Nov 2026 07:00:00 +0000"
    message["Message-ID"] = "<edition-1@example.org>"
    message["List-Unsubscribe"] = "<https://digest.example.org/u/token>"
    for name, value in shape.extra:
        message[name] = value if name != "Reply-To" else Address(value, "reply", "example.org")
    body = "\n".join(shape.lines) + "\n"
    message.set_content(body)
    if shape.html:
        message.add_alternative(f"<p>{body}</p>", subtype="html")
    signer = _signer()
    raw = signer.sign(message).as_bytes()
    assert raw.startswith(b"DKIM-Signature:")
    assert _verify(raw)
    crlf = re.sub(rb"\r?\n", b"\r\n", raw)
    unsigned = crlf[len(b"\r\n".join(_signature_header(crlf))) + 2 :]
    # The body hash dkimpy computes for the same bytes, and bytes signed as they are.
    reference = dkim.sign(
        unsigned, b"s1", b"example.org", dkim_test_key().pem, canonicalize=CANONICALIZATION
    )
    assert _tags(reference + unsigned)["bh"] == _tags(crlf)["bh"]
    assert _verify(signer.sign_bytes(unsigned))
