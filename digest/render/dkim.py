"""DKIM signing with dkimpy, configured by DIGEST_DKIM_KEY_FILE, _SELECTOR and _DOMAIN."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path

import dkim
from dkim.crypto import UnparsableKeyError, parse_pem_private_key

from digest.errors import ConfigError
from digest.settings import EmailSettings

# RFC 8058 asks that List-Unsubscribe and List-Unsubscribe-Post be signed. Names listed
# twice are oversigned: a relay that adds a second copy of them breaks the signature.
SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
    "From",
    "Subject",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)
# Relaxed for both: relays that re-fold headers or trim trailing spaces keep it valid.
CANONICALIZATION = (b"relaxed", b"relaxed")


@dataclass(frozen=True)
class DkimKey:
    selector: str
    domain: str
    pem: bytes
    bits: int

    def public_record(self) -> str:
        """The TXT record to publish at <selector>._domainkey.<domain>."""
        key = parse_pem_private_key(self.pem)
        integers = _der_integer(key["modulus"]) + _der_integer(key["publicExponent"])
        der = _der(0x30, integers)  # RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER }
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


def _der_integer(value: int) -> bytes:
    # One spare byte keeps the sign bit clear, as DER wants for a positive INTEGER.
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def signing_domain(settings: EmailSettings) -> str:
    """d= of the signature: DIGEST_DKIM_DOMAIN, else the From address's domain."""
    return (settings.dkim_domain or settings.sender_domain).lower()


def load_key(settings: EmailSettings) -> DkimKey | None:
    """The configured key, None when DKIM is off; ConfigError if half set up or unreadable."""
    path, selector = settings.dkim_key_file, settings.dkim_selector
    if path is None and selector is None:
        return None
    if path is None or selector is None:
        raise ConfigError("DKIM needs both DIGEST_DKIM_KEY_FILE and DIGEST_DKIM_SELECTOR")
    return _read_key(Path(path).expanduser().resolve(), selector, signing_domain(settings))


@lru_cache(maxsize=8)
def _read_key(path: Path, selector: str, domain: str) -> DkimKey:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"DIGEST_DKIM_KEY_FILE cannot be read: {exc.strerror}: {path}") from None
    try:
        key = parse_pem_private_key(pem)
    except (UnparsableKeyError, ValueError, IndexError) as exc:
        raise ConfigError(f"DIGEST_DKIM_KEY_FILE is not an RSA private key in PEM: {exc}") from None
    return DkimKey(selector, domain, pem, int(key["modulus"]).bit_length())


class DkimSigner:
    """Adds a DKIM-Signature, on top of the header block, to messages about to be sent."""

    def __init__(self, key: DkimKey) -> None:
        self.key = key

    @classmethod
    def from_settings(cls, settings: EmailSettings) -> DkimSigner | None:
        key = load_key(settings)
        return cls(key) if key is not None else None

    def signature(self, raw: bytes) -> str:
        """The DKIM-Signature header value (folded) for a serialised message."""
        header = dkim.sign(
            raw,
            self.key.selector.encode("ascii"),
            self.key.domain.encode("ascii"),
            self.key.pem,
            canonicalize=CANONICALIZATION,
            include_headers=[name.encode("ascii") for name in SIGNED_HEADERS],
        )
        name, _, value = bytes(header).decode("ascii").partition(":")
        assert name == "DKIM-Signature"
        return value.strip(" \r\n")

    def sign(self, message: EmailMessage) -> EmailMessage:
        """Sign in place and return the message; it must not change before it is sent."""
        if message.is_multipart() and message.get_boundary() is None:
            # Otherwise each serialisation picks a new boundary and the body hash breaks.
            message.set_boundary(f"=_digest_{secrets.token_hex(12)}")
        value = self.signature(message.as_bytes())
        items = list(message.raw_items())
        for name in {name for name, _ in items}:
            del message[name]
        message.set_raw("DKIM-Signature", value)
        for name, stored in items:
            message.set_raw(name, stored)
        return message
