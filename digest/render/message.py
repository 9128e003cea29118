"""Assemble a multipart/alternative email whose headers are built by digest.render.headers."""

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

from digest.render.headers import header_value, mailbox
from digest.render.mime import RAW_POLICY
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
    """A multipart/alternative message (text/plain, then text/html) from settings.from_address;
    UnsafeHeader (a ValueError) for a header value that cannot be written as given."""
    fields = [
        ("From", settings.from_address),
        ("To", to),
        ("Subject", clean_subject(subject)),
        ("Date", format_datetime(datetime.now(UTC))),
        ("Message-ID", message_id),
        *headers.items(),
    ]
    message = EmailMessage(policy=RAW_POLICY)
    for name, value in fields:
        # Set raw: `message[name] = value` would parse the value, decoding encoded words.
        # The recipient is an address, never parsed as 'Name <address>'.
        message.set_raw(name, mailbox(name, value) if name == "To" else header_value(name, value))
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def clean_subject(subject: str) -> str:
    """One line of at most SUBJECT_MAX_CHARS with no control character or unpaired surrogate:
    what the subject header takes as text (digest.render.headers.text_value)."""
    printable = "".join(
        "\ufffd" if "\ud800" <= ch <= "\udfff" else ch
        for ch in subject
        if unicodedata.category(ch) != "Cc" or ch.isspace()
    )
    return excerpt(printable, SUBJECT_MAX_CHARS)


def digest_message_id(settings: EmailSettings, subscriber_id: int, edition_date: date) -> str:
    """The same Message-ID every time one edition is rendered for one subscriber."""
    # Stable so a resend after a crash is recognisably the same message; keyed so ids
    # cannot be forged for other subscribers.
    key = settings.secret_key.encode("utf-8")
    payload = f"digest:{edition_date.isoformat()}:{subscriber_id}".encode()
    tag = hmac.new(key, payload, hashlib.sha256).hexdigest()[:16]
    return f"<digest.{edition_date.isoformat()}.{subscriber_id}.{tag}@{settings.sender_domain}>"
