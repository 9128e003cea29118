"""Bounces in the formats servers send instead of RFC 3464: qmail, Exim's and Postfix's plain
text, Exchange, Yahoo, and the others Mailman 3's detectors (flufl.bounce) know.

The detectors say which addresses a message reports as failing; this module decides what
they are shown and what their answer is worth:

- they see a bounded copy of the message: its parts' headers and decoded text, each line
  cut to MAX_LINE_CHARS, at most MAX_NOTICE_CHARS in MAX_NOTICE_LINES, and nothing of the
  original it returns (attached, or quoted after a "copy of the message" line or from its
  first header lines), so they read what the reporting server wrote, never our own words;
- an address they report counts as a permanent failure only when the notice says so: a
  5.x.x status or 5xx reply next to it (else anywhere in the notice), or, with no code at
  all, words of failure ("could not be delivered", "no such user", ...). A 4.x.x status,
  words of a retry ("will keep trying", "not yet been delivered") or no failure stated at
  all (an automatic reply) leave it a temporary failure.

The original's Message-ID is looked for in the quoted text, where these formats return it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses

from flufl.bounce import all_failures

# flufl.bounce logs a line per detector tried, and a traceback for a message one of them
# cannot read; the caller logs what matters about each message, once, masked.
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)

# Of text the detectors see: a notice is a few hundred bytes in a few dozen lines, and the
# detectors' cost grows with both (one of them tries ~45 patterns on every line).
MAX_NOTICE_CHARS = 16 * 1024
MAX_NOTICE_LINES = 1_000
# Of lines looked at, the notice's and the original's: decoding can make many more of them
# than the 5,000 raw lines read (a quoted-printable "=0A" is one).
MAX_SCANNED_LINES = 5_000
# Of one line: several detectors' patterns cost the square of a line's length, and a
# notice's lines are short (SMTP allows 1,000 characters, a reply rarely passes 200).
MAX_LINE_CHARS = 300
MAX_HEADER_CHARS = 1_000  # of one header value copied
MAX_HEADERS = 100  # copied per part
MAX_COPY_DEPTH = 20
MAX_COPY_PARTS = 200
MAX_QUOTED_CHARS = 64 * 1024  # of the quoted original searched for its Message-ID
SEGMENT_CHARS = 1_000  # of the notice after an address read for its status
MAX_ADDRESSES = 50  # a bounce of ours names one; each costs a look through the notice

# Where the returned original starts in a text part: a separator line that names it, or
# the first line of its header block (the reporting server's own headers are not in the
# body). Matched on a line with its leading whitespace and quoting removed.
_QUOTED_START = re.compile(
    r"(?:[-=*_~#]{2,}.*(?:original|copy of|returned|forwarded|undelivered|unsent"
    r"|headers? follow|message follows)"
    r"|original message (?:follows|attached|headers)|below this line is a copy"
    r"|(?:return-path|received|dkim-signature|message-id|mime-version|list-unsubscribe"
    r"|list-id|authentication-results|arc-seal)[ \t]*:)",
    re.IGNORECASE,
)
_SUBJECT_LINE = re.compile(
    r"[ \t>]*(?:the subject of the message is|subject)[ \t]*:", re.IGNORECASE
)
_QUOTED_MESSAGE_ID = re.compile(
    r"^[ \t>]*message-id:[ \t]*(?:\r?\n[ \t>]+)?(<[^<>\s]{1,250}>)",
    re.IGNORECASE | re.MULTILINE,
)
# RFC 3463 status codes (class.subject.detail) and RFC 5321 replies, neither glued to a
# longer number (an IP address, a version, a date).
_ENHANCED_STATUS = re.compile(r"(?<![\w.])[245]\.[0-7]\.\d{1,3}(?!\d|\.\d)")
# A reply where servers write one: at the start of a line, after "said:", "<<<", "reason:",
# "error:" or the "smtp;" of a diagnostic; then a status or words, so that a phone number
# in an automatic reply ("+1 555 0100") is none.
_REPLY_CODE = re.compile(
    r"(?:^[ \t>]*|said:[ \t]*|<<<[ \t]*|reason:[ \t]*|error:[ \t]*|;[ \t]*)"
    r"([45][0-5][0-9])(?=[ -](?:[245]\.[0-7]\.|[a-z<#(]))",
    re.IGNORECASE | re.MULTILINE,
)
_RETRYING = re.compile(
    r"will keep trying|will be retried|still being retried|will retry|will try again"
    r"|will continue to try|delivery attempts will continue|not yet been delivered"
    r"|has been delayed|is delayed|has been postponed|warning (?:message )?only"
    r"|advisory-only|no action is required on your part"
)
_FAILED = re.compile(
    r"n[o']t (?:be )?delivered|undeliverable|(?:unable|not able|n't able) to deliver"
    r"|could ?n[o']t deliver|delivery (?:has )?failed|failed permanently"
    r"|delivery to the following recipients? (?:failed|was aborted)|failed recipient"
    r"|address(?:\(es\))? failed|permanent (?:error|failure|fatal)|no such (?:user|address"
    r"|mailbox)|user unknown|unknown (?:user|recipient|address)|no mailbox|mailbox unavailable"
    r"|does not exist|did not reach|could not be reached|did not receive this message"
    r"|rejected|account (?:has been )?disabled"
)


class TooManyAddresses(ValueError):
    """The detectors found more addresses than any bounce of ours names."""


@dataclass(frozen=True)
class Failure:
    """An address the notice reports as failed for good, with the status shown for it."""

    address: str
    status: str = ""  # "5.1.1" or "550", when the notice gives one


@dataclass(frozen=True)
class TextBounce:
    """What a bounce in a non-standard format reports."""

    failures: list[Failure]
    temporary: list[str]  # addresses failed for now, or without a failure stated
    message_id: str | None = None  # of the original, quoted in the text


@dataclass
class _Copy:
    """The text read from a message while it is copied for the detectors."""

    notice: list[str] = field(default_factory=list)
    quoted: list[str] = field(default_factory=list)
    room: int = MAX_NOTICE_CHARS
    lines: int = MAX_NOTICE_LINES
    scanned: int = MAX_SCANNED_LINES
    quoted_room: int = MAX_QUOTED_CHARS
    parts: int = 0


def read_text_bounce(message: Message) -> TextBounce | None:
    """The failures a bounce in any format the detectors know reports, or None if they
    recognise none; TooManyAddresses past MAX_ADDRESSES."""
    read = _Copy()
    temporary, permanent = all_failures(_copy(message, read, 0))
    delayed = _addresses(temporary)
    failed = _addresses(permanent) - delayed
    if not failed and not delayed:
        return None
    if len(failed | delayed) > MAX_ADDRESSES:
        raise TooManyAddresses(f"the bounce names more than {MAX_ADDRESSES} addresses")
    # What the server says, without the subject it repeats (a paper's title).
    notice = "\n".join(line for line in read.notice if not _SUBJECT_LINE.match(line))
    lowered = notice.lower()
    segments = _segments(lowered, failed)
    notice_status = _status(notice)
    retrying = _RETRYING.search(lowered) is not None
    says_failed = _FAILED.search(lowered) is not None
    failures: list[Failure] = []
    held = sorted(delayed)
    for address in sorted(failed):
        status = _status(segments.get(address, "")) or notice_status
        final = status.startswith("5") if status else says_failed
        if final and not retrying:
            failures.append(Failure(address, status))
        else:
            held.append(address)
    message_id = _QUOTED_MESSAGE_ID.search("\n".join(read.quoted))
    return TextBounce(failures, held, message_id.group(1) if message_id else None)


def _copy(part: Message, read: _Copy, depth: int) -> Message:
    """A copy of `part` the detectors can read at a bounded cost, its text noted in `read`."""
    copy = Message()
    for count, (name, value) in enumerate(part.items()):
        if count == MAX_HEADERS:
            break
        copy[name] = _clean(str(value)[:MAX_HEADER_CHARS])
    if depth == 0 and not getaddresses([copy.get("from", "")]):
        # flufl.bounce 6.0's Yale detector takes the first address of From: with none (no
        # From, an empty one) it raises, and the detectors after it never run.
        del copy["from"]
        copy["From"] = "<>"
    read.parts += 1
    payload = part.get_payload()
    if part.get_content_maintype() == "multipart" and isinstance(payload, list):
        copy.set_payload(
            [
                _copy(child, read, depth + 1)
                for child in payload
                if isinstance(child, Message)
                and depth < MAX_COPY_DEPTH
                and read.parts < MAX_COPY_PARTS
            ]
        )
        return copy
    del copy["content-transfer-encoding"]
    # The notice is in the text parts (and in a multipart the parser found no parts in);
    # the returned original, a status part (digest.mail.bounces reads those) and any
    # attachment are left empty.
    is_text = part.get_content_maintype() in ("text", "multipart")
    copy.set_payload(_notice_text(_decoded(part), read) if is_text else "")
    return copy


def _notice_text(text: str, read: _Copy) -> str:
    """The lines of a text part up to the returned original, cut to the room left; the
    start of the original goes to `read.quoted`."""
    kept: list[str] = []
    quoting = False
    for line in text.splitlines():
        read.scanned -= 1
        if read.scanned < 0:
            break
        if not quoting and _QUOTED_START.match(line[:MAX_LINE_CHARS].lstrip(" \t>")):
            quoting = True
        if quoting:
            if read.quoted_room <= 0:
                break
            read.quoted.append(line[: read.quoted_room])
            read.quoted_room -= len(line) + 1
        elif read.room > 0 and read.lines > 0:
            kept.append(line[:MAX_LINE_CHARS])
            read.room -= len(kept[-1]) + 1
            read.lines -= 1
    read.notice.extend(kept)
    return "".join(f"{line}\n" for line in kept)


def _decoded(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _addresses(found: frozenset[bytes]) -> set[str]:
    return {address.decode("ascii", "replace").strip() for address in found if b"@" in address}


def _segments(lowered: str, addresses: set[str]) -> dict[str, str]:
    """For each address the lower-cased notice names, the text from its first mention to
    the next address's (at most SEGMENT_CHARS): where its status is written."""
    starts = sorted(
        (start, address) for address in addresses if (start := lowered.find(address.lower())) >= 0
    )
    ends = [start for start, _ in starts[1:]] + [len(lowered)]  # one more when none starts
    return {
        address: lowered[start : min(end, start + SEGMENT_CHARS)]
        for (start, address), end in zip(starts, ends, strict=False)
    }


def _status(text: str) -> str:
    """The most telling code in `text`: permanent over temporary, an enhanced status over a
    reply code; "" when there is none."""
    codes = [m.group(0) for m in _ENHANCED_STATUS.finditer(text)]
    codes += [m.group(1) for m in _REPLY_CODE.finditer(text)]
    permanent = [code for code in codes if code.startswith("5")]
    return (permanent or codes or [""])[0]


def _clean(value: str) -> str:
    # Undecodable header bytes surface as lone surrogates, which cannot be logged or stored.
    return value.encode("utf-8", "replace").decode("utf-8")
