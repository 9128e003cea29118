"""Assemble a multipart/alternative message from pre-encoded parts, without re-parsing.

Letting the email package fold every header and sniff every body costs milliseconds; a
list renders thousands of these, so here each header is written as `digest.render.headers`
folded it (and checked once more) and each body is quoted-printable encoded by `binascii`.
The result is an ordinary EmailMessage that serialises byte for byte the same every time,
which DKIM needs.
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import Sequence
from email.headerregistry import BaseHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from functools import lru_cache
from typing import Any

from digest.render.headers import ADDRESS_HEADERS, LINE_MAX, checked

CACHED_HEADERS = frozenset({"content-type", "content-transfer-encoding", "mime-version"})


class RawHeaderPolicy(EmailPolicy):
    """Writes set_raw values exactly as given (we fold them) and parses MIME headers once.

    The generator asks each part for its Content-Type several times per serialisation, and
    parsing one costs more than the rest of a render; the values repeat, so parse them once.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if isinstance(value, str) and name.lower() in CACHED_HEADERS:
            return _parsed_header(name, value)
        return super().header_fetch_parse(name, value)


@lru_cache(maxsize=256)
def _parsed_header(name: str, value: str) -> BaseHeader:
    # Keyed without the policy: the generator works on a fresh clone of it every time.
    parsed: BaseHeader = EmailPolicy.header_fetch_parse(RAW_POLICY, name, value)
    return parsed


# "none": a value is written exactly as set_raw got it. Refolding would send it through
# the header factory, which decodes encoded words (see digest.render.headers).
RAW_POLICY = RawHeaderPolicy(linesep="\r\n", cte_type="7bit", refold_source="none")
HEADER_LINE_MAX = LINE_MAX


def make_boundary() -> str:
    # "=_" never occurs in quoted-printable output, so no body can contain the boundary.
    return f"=_digest_{secrets.token_hex(12)}"


def assemble(
    headers: Sequence[tuple[str, str]], text: str, html: str, boundary: str
) -> EmailMessage:
    """text/plain then text/html alternatives under `headers` (values from
    digest.render.headers, checked again here: no other header can be written)."""
    message = EmailMessage(policy=RAW_POLICY)
    for name, value in headers:
        message.set_raw(name, checked(name, value, utf8=name.lower() in ADDRESS_HEADERS))
    message.set_raw("MIME-Version", "1.0")
    message.set_raw("Content-Type", multipart_type(boundary))
    message.set_payload([_text_part("plain", text), _text_part("html", html)])
    return message


def serialise(headers: Sequence[tuple[str, str]], text: str, html: str, boundary: str) -> bytes:
    """The bytes `assemble(...).as_bytes()` gives, written directly: no generator, no parsing.

    ASCII only (UnicodeEncodeError otherwise): an address that needs SMTPUTF8 takes
    `assemble`, whose message the SMTP client serialises with raw UTF-8 headers.
    """
    head = [_header_line(name, checked(name, value)) for name, value in headers]
    head.append(_header_line("MIME-Version", "1.0"))
    head.append(_header_line("Content-Type", multipart_type(boundary)))
    head.append(f"{CRLF}--{boundary}{CRLF}")
    out = ["".join(head).encode("ascii")]
    for index, (subtype, body) in enumerate((("plain", text), ("html", html))):
        if index:
            out.append(f"{CRLF}--{boundary}{CRLF}".encode("ascii"))
        encoding, payload = encode_body_bytes(subtype, body)
        part = _header_line("Content-Type", text_type(subtype))
        part += _header_line("Content-Transfer-Encoding", encoding) + CRLF
        out.append(part.encode("ascii"))
        out.append(_crlf(payload))
    out.append(f"{CRLF}--{boundary}--{CRLF}".encode("ascii"))
    return b"".join(out)


CRLF = "\r\n"
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def _header_line(name: str, value: str) -> str:
    # As the generator writes a raw value with refold_source="none" (email.policy._fold).
    return f"{name}: {CRLF.join(value.splitlines())}{CRLF}"


def _crlf(payload: bytes) -> bytes:
    # As Generator._write_lines: every line break becomes CRLF, no CRLF added at the end.
    if b"\r" not in payload:
        return payload.replace(b"\n", b"\r\n")
    return b"\r\n".join(_LINE_BREAK.split(payload))


def multipart_type(boundary: str) -> str:
    return f'multipart/alternative;\r\n boundary="{boundary}"'


def text_type(subtype: str) -> str:
    return f'text/{subtype}; charset="utf-8"'


def _text_part(subtype: str, body: str) -> EmailMessage:
    part = EmailMessage(policy=RAW_POLICY)
    part.set_raw("Content-Type", text_type(subtype))
    encoding, payload = encode_body(subtype, body)
    part.set_raw("Content-Transfer-Encoding", encoding)
    part.set_payload(payload)
    return part


def encode_body(subtype: str, body: str) -> tuple[str, str]:
    """The Content-Transfer-Encoding of a text part and its payload, 7-bit clean."""
    encoding, payload = encode_body_bytes(subtype, body)
    return encoding, payload.decode("ascii")


def html_part_size(html: str) -> int:
    """The bytes `html` takes as a message's HTML part: encoded as it is sent (see
    encode_body_bytes), each line break a CRLF."""
    _, payload = encode_body_bytes("html", html)
    return len(payload) + payload.count(b"\n")


def encode_body_bytes(subtype: str, body: str) -> tuple[str, bytes]:
    """`encode_body` as ASCII bytes, for `serialise`."""
    if subtype == "html":
        # Cached: the renderer measures the HTML it is about to send (html_part_size).
        return _encode_html(body)
    return _encode(subtype, body)


@lru_cache(maxsize=4)
def _encode_html(body: str) -> tuple[str, bytes]:
    return _encode("html", body)


def _encode(subtype: str, body: str) -> tuple[str, bytes]:
    if "\r" in body:
        body = body.replace("\r\n", "\n")
    # ASCII is sent as is (cheaper to make and to read), as long as no line is longer than
    # SMTP allows. Character references make any HTML ASCII; our <style> and comments are
    # ASCII already, where references would not be decoded.
    plain: bytes | None = None
    if subtype == "html":
        plain = body.encode("ascii", "xmlcharrefreplace")
    elif body.isascii():
        plain = body.encode("ascii")
    if plain is not None and max(map(len, plain.split(b"\n"))) <= HEADER_LINE_MAX:
        return "7bit", plain
    if "\r" in body:
        return "quoted-printable", binascii.b2a_qp(body.encode("utf-8"), istext=True)
    # Encoded a line at a time (the same bytes: a line's encoding depends on it alone), so
    # the lines every reader's copy shares are encoded once per process.
    lines = body.split("\n")
    last = lines.pop()
    return "quoted-printable", b"".join([*map(_qp_line, lines), _qp(last)])


@lru_cache(maxsize=1 << 16)
def _qp_line(line: str) -> bytes:
    return _qp(line + "\n")


def _qp(text: str) -> bytes:
    return binascii.b2a_qp(text.encode("utf-8"), istext=True)
