"""DKIM signing (RFC 6376, rsa-sha256) with OpenSSL through `cryptography`, configured by
DIGEST_DKIM_KEY_FILE, _SELECTOR and _DOMAIN."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.headerregistry import BaseHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from digest.errors import ConfigError
from digest.render.headers import checked
from digest.render.relaxed import relaxed_body, relaxed_header, select_fields, split_message
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
HEADER_NAME = "DKIM-Signature"
FOLD_AT = 78  # no line of the header passes this, so no relay needs to re-fold it


@dataclass(frozen=True)
class DkimKey:
    selector: str
    domain: str
    pem: bytes
    bits: int
    private_key: rsa.RSAPrivateKey = field(repr=False, compare=False)

    def public_record(self) -> str:
        """The TXT record to publish at <selector>._domainkey.<domain>."""
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


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
    domain = signing_domain(settings)
    if not domain.isascii():
        raise ConfigError(
            f"DKIM needs an ASCII domain: set DIGEST_DKIM_DOMAIN to {domain}'s xn-- form"
        )
    return _read_key(Path(path).expanduser().resolve(), selector, domain)


@lru_cache(maxsize=8)
def _read_key(path: Path, selector: str, domain: str) -> DkimKey:
    # Cached: parsing and checking an RSA key costs more than signing a message with it.
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"DIGEST_DKIM_KEY_FILE cannot be read: {exc.strerror}: {path}") from None
    refused = "DIGEST_DKIM_KEY_FILE is not an RSA private key in PEM"
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise ConfigError(
            f"{refused}: it is encrypted (store it without a passphrase): {path}"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{refused}: {str(exc).rpartition('details. ')[2]}: {path}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{refused}: it holds an {type(key).__name__}: {path}")
    return DkimKey(selector, domain, pem, key.key_size, key)


class DkimSigner:
    """Adds a DKIM-Signature, on top of the header block, to messages about to be sent."""

    def __init__(self, key: DkimKey) -> None:
        self.key = key
        self._tags = (
            "v=1",
            "a=rsa-sha256",
            "c=" + "/".join(part.decode("ascii") for part in CANONICALIZATION),
            f"d={key.domain}",
            f"i=@{key.domain}",
            "q=dns/txt",
            f"s={key.selector}",
        )
        self._header_list = "h=" + ":".join(name.lower() for name in SIGNED_HEADERS)

    @classmethod
    def from_settings(cls, settings: EmailSettings) -> DkimSigner | None:
        key = load_key(settings)
        return cls(key) if key is not None else None

    def signature(self, raw: bytes, *, timestamp: int | None = None) -> str:
        """The DKIM-Signature header value (folded, 7-bit) for a serialised message."""
        fields, body = split_message(raw)
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())
        stamp = int(time.time()) if timestamp is None else timestamp
        tags = (*self._tags, f"t={stamp}", self._header_list, f"bh={body_hash.decode('ascii')}")
        # b= goes on a line of its own: what precedes it is the same signed and unsigned.
        unsigned = _fold_tags(tags, len(HEADER_NAME) + 2) + "\r\n b="
        signed = [
            relaxed_header(name, value) for name, value in select_fields(fields, SIGNED_HEADERS)
        ]
        # §3.7: the signature's own header comes last, with b= empty and no CRLF after it.
        signed.append(relaxed_header(HEADER_NAME.encode("ascii"), unsigned.encode("ascii")))
        data = b"\r\n".join(signed)
        rsa_signature = self.key.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        value = unsigned + _fold_run(base64.b64encode(rsa_signature).decode("ascii"), len(" b="))
        return checked(HEADER_NAME, value)

    def sign_bytes(self, raw: bytes, *, timestamp: int | None = None) -> bytes:
        """`raw` with its DKIM-Signature header on top, for a message already serialised."""
        value = self.signature(raw, timestamp=timestamp)
        return f"{HEADER_NAME}: {value}\r\n".encode("ascii") + raw

    def sign(self, message: EmailMessage) -> EmailMessage:
        """Sign in place and return the message; it must not change before it is sent."""
        if message.is_multipart() and message.get_boundary() is None:
            # Otherwise each serialisation picks a new boundary and the body hash breaks.
            message.set_boundary(f"=_digest_{secrets.token_hex(12)}")
        items = list(message.raw_items())
        wire = message.policy
        if any(not isinstance(value, BaseHeader) and not value.isascii() for _, value in items):
            # A raw SMTPUTF8 address: signed as the SMTP client will send it, in UTF-8.
            assert isinstance(wire, EmailPolicy)
            wire = wire.clone(utf8=True)
        value = self.signature(message.as_bytes(policy=wire))
        for name in {name for name, _ in items}:
            del message[name]
        message.set_raw(HEADER_NAME, value)
        for name, stored in items:
            message.set_raw(name, stored)
        return message


def _fold_tags(tags: Sequence[str], column: int) -> str:
    """`tag; tag; ...;` folded before a tag, or after a colon of h=, to keep lines short."""
    out: list[str] = []
    for tag in tags:
        pieces = tag.split(":") if tag.startswith("h=") else [tag]
        words = [f"{piece}:" for piece in pieces[:-1]] + [f"{pieces[-1]};"]
        for index, word in enumerate(words):
            glue = " " if out and index == 0 else ""
            if out and column + len(glue) + len(word) > FOLD_AT:
                out.append("\r\n")
                glue, column = " ", 0
            out.append(glue + word)
            column += len(glue) + len(word)
    return "".join(out)


def _fold_run(text: str, column: int) -> str:
    """An unbreakable base64 run, cut into lines (FWS may go anywhere inside b=)."""
    room = FOLD_AT - column
    lines = [text[:room]]
    lines += [text[at : at + FOLD_AT - 1] for at in range(room, len(text), FOLD_AT - 1)]
    return "\r\n ".join(lines)
