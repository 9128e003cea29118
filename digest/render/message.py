"""Assemble a multipart/alternative email with safe, correctly encoded headers."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from types import MappingProxyType

from digest.render.templates import excerpt
from digest.settings import EmailSettings

SUBJECT_MAX_CHARS = 200
NO_HEADERS: Mapping[str, str] = MappingProxyType({})
# 7-bit clean bodies (quoted-printable or base64 when needed) reach relays without 8BITMIME.
MESSAGE_POLICY = policy.SMTP.clone(cte_type="7bit")


def build_message(
    settings: EmailSettings,
    *,
    to: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    headers: Mapping[str, str] = NO_HEADERS,
) -> EmailMessage:
    """A multipart/alternative message (text/plain, then text/html) from settings.from_address."""
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["From"] = settings.from_address
    message["To"] = to
    message["Subject"] = clean_subject(subject)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name] = value
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def clean_subject(subject: str) -> str:
    """One line of at most SUBJECT_MAX_CHARS, so no paper title can add or break a header."""
    printable = "".join(ch for ch in subject if unicodedata.category(ch) != "Cc" or ch.isspace())
    return excerpt(printable, SUBJECT_MAX_CHARS)


def digest_message_id(settings: EmailSettings, subscriber_id: int, edition_date: date) -> str:
    """The same Message-ID every time one edition is rendered for one subscriber."""
    # Stable so a resend after a crash is recognisably the same message; keyed so ids
    # cannot be forged for other subscribers.
    key = settings.secret_key.encode("utf-8")
    payload = f"digest:{edition_date.isoformat()}:{subscriber_id}".encode()
    tag = hmac.new(key, payload, hashlib.sha256).hexdigest()[:16]
    return f"<digest.{edition_date.isoformat()}.{subscriber_id}.{tag}@{settings.sender_domain}>"
