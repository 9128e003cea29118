"""The SMTP envelope of one message: who bounces come back to, and the one recipient.

The recipient is handed to the server explicitly, never read back out of the `To:` header,
and it must be the very address the header shows: a mail library that decodes a header
differently would otherwise deliver to a mailbox the store does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.headerregistry import AddressHeader
from email.message import EmailMessage
from email.utils import parseaddr
from functools import lru_cache

from digest.addresses import is_plain_address, unsendable_reason
from digest.errors import Unsendable
from digest.settings import EmailSettings
from digest.tokens import verp_return_path


@dataclass(frozen=True)
class Envelope:
    mail_from: str  # the return path
    rcpt_to: str


def envelope_for(
    settings: EmailSettings, message: EmailMessage | bytes, *, subscriber_id: int, address: str
) -> Envelope:
    """The envelope of `message` (or of its serialised bytes) to `address`; Unsendable if the
    two cannot agree exactly."""
    if isinstance(message, bytes) and is_plain_address(address):
        # Such an address reads back unchanged, so the header as written is the check.
        if _to_value(message) != address:
            raise Unsendable("the To header does not show the stored address unchanged")
        return Envelope(return_path(settings, subscriber_id), address)
    problem = unsendable_reason(address)
    if problem is not None:
        raise Unsendable(f"the stored address cannot be sent to: {problem}")
    if isinstance(message, EmailMessage):
        header = message["To"]
    else:
        raw = _to_value(message)
        # Bytes are checked twice: as written, and as a receiving mail library reads them.
        header = _parsed_to(raw) if raw == address else None
    shown = (
        [item.addr_spec for item in header.addresses] if isinstance(header, AddressHeader) else None
    )
    if shown != [address]:
        raise Unsendable("the To header does not show the stored address unchanged")
    return Envelope(return_path(settings, subscriber_id), address)


def _to_value(data: bytes) -> str | None:
    """The To header of serialised bytes, unfolded; None unless there is exactly one."""
    head, _, _ = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    found = [i for i, line in enumerate(lines) if line[:3].lower() == b"to:"]
    if len(found) != 1:
        return None
    first = found[0]
    value = [lines[first][3:]]
    for line in lines[first + 1 :]:
        if line[:1] not in (b" ", b"\t"):
            break
        value.append(line)  # RFC 5322 2.2.3: unfolding removes the CRLF, keeps the space
    try:
        return b"".join(value).decode("ascii").strip(" \t")
    except UnicodeDecodeError:
        return None


def _parsed_to(value: str) -> object:
    return policy.default.header_factory("To", value)


def return_path(settings: EmailSettings, subscriber_id: int) -> str:
    """A signed per-subscriber bounce address (VERP) when DIGEST_RETURN_PATH is set,
    else the From address."""
    if settings.return_path:
        return verp_return_path(settings.secret_key, settings.return_path, subscriber_id)
    return _address_of(settings.from_address)


@lru_cache(maxsize=16)
def _address_of(from_header: str) -> str:
    return parseaddr(from_header)[1]
