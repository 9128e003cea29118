"""Email address validation and normalisation.

An address we accept is one we can send to unchanged: written into a `To:` header and an
SMTP `RCPT TO`, it must come out byte for byte as stored. Otherwise the message would go to
a different mailbox than the one the suppression list and the rate limits know.
"""

from __future__ import annotations

import re
from email import policy
from email.errors import HeaderParseError
from smtplib import quoteaddr

from email_validator import EmailNotValidError, validate_email

from digest.errors import InvalidEmail

MAX_EMAIL_LENGTH = 254
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# A dot-atom of atext before the @ and a host name after it (RFC 5322 3.2.3, RFC 1035).
PLAIN_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})+")


def normalise_email(raw: str) -> str:
    """Return the canonical form of an address, or raise InvalidEmail with the reason.

    The domain is lower-cased by email-validator; the local part is lower-cased too, because
    subscribers expect Foo@Example.com and foo@example.com to be one subscription.
    A domain like exämple.org is stored as xn--exmple-cua.org, so both spellings are one
    subscriber.
    """
    if "\r" in raw or "\n" in raw:
        raise InvalidEmail("an email address cannot contain line breaks")
    candidate = raw.strip()
    if not candidate:
        raise InvalidEmail("please enter an email address")
    if len(candidate) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"an email address cannot be longer than {MAX_EMAIL_LENGTH} characters")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    # An internationalised domain is kept in its ASCII (IDNA) form when the local part allows
    # it: the same mailbox, and it can be written into a 7-bit header and sent by any relay.
    local, domain = (result.ascii_email or result.normalized).rsplit("@", 1)
    normalised = f"{local.lower()}@{domain.lower()}"
    if len(normalised) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(f"an email address cannot be longer than {MAX_EMAIL_LENGTH} characters")
    # The header parse costs ~0.3 ms; a plain address is known to pass it (bulk imports).
    problem = None if is_plain_address(normalised) else unsendable_reason(normalised)
    if problem is not None:
        raise InvalidEmail(problem)
    return normalised


def unsendable_reason(address: str) -> str | None:
    """Why `address` would not reach `To:` and `RCPT TO` unchanged, or None if it would.

    Also run on stored addresses right before sending, for rows written by older versions.
    """
    if any(ord(ch) < 0x20 or ch in '\x7f<>,;"\\ ' for ch in address):
        return 'an email address cannot contain spaces, control characters or <>,;"\\'
    if "=?" in address and "?=" in address:
        # RFC 2047 encoded words are decoded by mail libraries: the mail would go elsewhere.
        return "an email address cannot contain encoded text (=?…?=)"
    try:
        parsed = policy.SMTP.header_factory("To", address)
        addresses = [item.addr_spec for item in parsed.addresses]
    except (HeaderParseError, ValueError, IndexError, TypeError):
        addresses = []
    if addresses != [address] or quoteaddr(address) != f"<{address}>":
        return "an email address must read the same in an email header"
    return None


def is_plain_address(address: str) -> bool:
    """True for an ASCII dot-atom address with a host-name domain and no encoded word:
    nearly every address, and one that every header parser reads back unchanged (tested
    against `unsendable_reason`), so sending it needs no parse."""
    return (
        len(address) <= MAX_EMAIL_LENGTH
        and "=?" not in address
        and PLAIN_ADDRESS.fullmatch(address) is not None
    )
