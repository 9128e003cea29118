"""Pool entries and message parsing shared by the render tests."""

from __future__ import annotations

import base64
import email
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from digest.papers import EditionEntry
from digest.pipeline.notices import render_subscriber_email
from digest.settings import EmailSettings, Settings
from digest.store.subscribers import CONFIRMATION_EMAIL


def make_entry(rank: int, **overrides: Any) -> EditionEntry:
    """A plausible ranked paper; override any field."""
    arxiv_id = f"2411.{10000 + rank}"
    fields: dict[str, Any] = {
        "rank": rank,
        "score": 100.0 - rank,
        "arxiv_id": arxiv_id,
        "title": f"Paper ranked {rank}: sparse attention at scale",
        "abstract": "We present a method for trending things. " * 20,
        "url": f"https://huggingface.co/papers/{arxiv_id}",
        "authors": ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"],
        "pdf_url": f"https://arxiv.org/pdf/{arxiv_id}",
        "code_url": f"https://github.com/example/paper-{rank}",
        "project_url": f"https://example.org/projects/{rank}",
        "upvotes": 212,
        "comments": 14,
        "stars": 1234,
    }
    fields.update(overrides)
    return EditionEntry(**fields)


def parse(message: EmailMessage) -> EmailMessage:
    """Serialise as it goes over SMTP and parse back strictly (any defect raises)."""
    parsed = email.message_from_bytes(message.as_bytes(policy=policy.SMTP), policy=policy.strict)
    assert isinstance(parsed, EmailMessage)
    return parsed


def part_text(message: EmailMessage, subtype: str) -> str:
    """The decoded text of the text/<subtype> alternative, with \\n line ends."""
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_type() == f"text/{subtype}"
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


@dataclass(frozen=True)
class SigningKey:
    """An RSA key for DKIM tests: the PEM to sign with and the DNS record to verify with."""

    pem: bytes
    record: bytes

    def write(self, folder: Path) -> Path:
        path = folder / "dkim.pem"
        path.write_bytes(self.pem)
        return path

    def dns(self, name: bytes, timeout: int = 5) -> bytes:
        """A stand-in for the DNS TXT lookup dkimpy makes."""
        return self.record


@lru_cache(maxsize=2)
def dkim_test_key(bits: int = 2048) -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SigningKey(pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public))


def signing_settings(settings: Settings, folder: Path, **overrides: Any) -> Settings:
    """`settings` with DKIM on (selector `s1`, the From domain), plus any overrides."""
    path = dkim_test_key().write(folder)
    return settings.model_copy(update={"dkim_key_file": path, "dkim_selector": "s1", **overrides})


def render_confirmation(settings: EmailSettings, *, subscriber_id: int, email: str) -> EmailMessage:
    """The double opt-in email as the subscribe form's kind renders it."""
    return render_subscriber_email(
        settings, CONFIRMATION_EMAIL, subscriber_id=subscriber_id, email=email
    )
