"""Bounce reports, abuse reports and hostile messages built in code, a real Maildir, and a
real send to get the Message-IDs and return paths that genuine reports carry."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from digest.pipeline.plan import send_due_now
from digest.settings import Settings
from digest.store.db import Database
from tests.conftest import SmtpSink
from tests.factories import make_paper, make_subscriber

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 26, 9, tzinfo=UTC)
RETURN_PATH = "bounces@example.org"
_names = itertools.count(1)


# --- a real send ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SentCopy:
    """What the SMTP server received for one subscriber."""

    message_id: str
    mail_from: str  # the envelope sender: the signed VERP address with a return path set
    headers: dict[str, str]


def send_edition(
    db: Database, settings: Settings, sink: SmtpSink, emails: list[str]
) -> dict[str, SentCopy]:
    """Subscribe `emails` (active), send them DAY's edition over SMTP, return each copy."""
    with db.session() as session:
        make_paper(session, listed_on=DAY, upvotes=10)
        for email in emails:
            make_subscriber(session, email, send_hour=0)
    counts = send_due_now(db, settings, NOW, edition=DAY)
    assert counts.sent == len(emails), counts
    copies: dict[str, SentCopy] = {}
    for message, (mail_from, rcpts) in zip(sink.received, sink.envelopes, strict=True):
        (rcpt,) = rcpts
        if rcpt in emails:
            headers = {name: str(value) for name, value in message.items()}
            copies[rcpt] = SentCopy(str(message["Message-ID"]), mail_from, headers)
    assert sorted(copies) == sorted(emails)
    return copies


# --- the Maildir ----------------------------------------------------------------------------


def make_maildir(folder: Path, *messages: bytes) -> Path:
    """A Maildir whose new/ holds `messages`, read in this order."""
    for sub in ("new", "cur", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for raw in messages:
        (folder / "new" / f"{next(_names):06d}.test.mx.example").write_bytes(raw)
    return folder


def filed(folder: Path) -> list[str]:
    """Names of the messages filed under cur/ as seen; asserts new/ is empty."""
    assert sorted(path.name for path in (folder / "new").iterdir()) == []
    names = sorted(path.name for path in (folder / "cur").iterdir())
    assert all(name.endswith(":2,S") for name in names), names
    return names


# --- reports --------------------------------------------------------------------------------


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def original_headers(to: str, message_id: str | None) -> str:
    lines = [
        "From: Trending Papers <digest@example.org>",
        f"To: {to}",
        "Subject: Trending papers, 25 November 2026",
    ]
    if message_id is not None:
        lines.append(f"Message-ID: {message_id}")
    return "\n".join(lines) + "\n"


def multipart_dsn(
    recipient: str,
    message_id: str | None = None,
    *,
    delivered_to: str = RETURN_PATH,
    header: str = "Delivered-To",
    original: str = "message/rfc822",
    status: str = "5.1.1",
) -> bytes:
    """An RFC 3464 multipart/report: a note, the status, and the original (or its
    headers, with original="text/rfc822-headers"; none with original="")."""
    parts = [
        "Content-Type: text/plain\n\nYour message could not be delivered.\n",
        "Content-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example\n\n"
        f"Final-Recipient: rfc822; {recipient}\nAction: failed\nStatus: {status}\n",
    ]
    if original:
        parts.append(f"Content-Type: {original}\n\n{original_headers(recipient, message_id)}")
    body = "".join(f"--BOUNDARY\n{part}\n" for part in parts)
    return _crlf(
        f"{header}: {delivered_to}\n"
        "From: MAILER-DAEMON@mx.example\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"\n\n'
        f"{body}--BOUNDARY--\n"
    )


def bare_dsn(
    recipient: str, *, delivered_to: str = RETURN_PATH, header: str = "Delivered-To"
) -> bytes:
    """A message that is its delivery status and nothing else (no original, no id)."""
    return _crlf(
        f"{header}: {delivered_to}\n"
        "From: MAILER-DAEMON@mx.example\n"
        "Content-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example\n\n"
        f"Final-Recipient: rfc822; {recipient}\nAction: failed\nStatus: 5.1.1\n"
    )


def arf(
    *,
    original_rcpt_to: str | None = None,
    original_to: str | None = None,
    message_id: str | None = None,
    delivered_to: str = "fbl@example.org",
) -> bytes:
    """An RFC 5965 abuse report, naming the address in Original-Rcpt-To and/or in the To:
    of the attached original's headers."""
    fields = "Feedback-Type: abuse\nUser-Agent: FBL/1.0\nVersion: 1\n"
    if original_rcpt_to is not None:
        fields += f"Original-Rcpt-To: <{original_rcpt_to}>\n"
    parts = [
        "Content-Type: text/plain\n\nThis is an abuse report.\n",
        f"Content-Type: message/feedback-report\n\n{fields}",
    ]
    if original_to is not None or message_id is not None:
        to = original_to or "undisclosed-recipients:;"
        parts.append(f"Content-Type: text/rfc822-headers\n\n{original_headers(to, message_id)}")
    body = "".join(f"--ARF\n{part}\n" for part in parts)
    return _crlf(
        f"To: {delivered_to}\n"
        "From: feedback@fbl.example\n"
        "Subject: abuse report\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="ARF"\n\n'
        f"{body}--ARF--\n"
    )


# --- bounces in other formats --------------------------------------------------------------

PAYLOADS = Path(__file__).parent.parent / "payloads" / "bounces"
# The Message-ID of the digest each sample of tests/payloads/bounces/ quotes or attaches; a
# test puts the id of a copy it really sent in its place.
SAMPLE_ID = "<digest.2026-11-25.1.0123456789abcdef@example.org>"

# A sample of each format flufl.bounce's detectors read (named after the detector that
# recognises it) and of the RFC 3464 variants some MTAs send, with the addresses each
# reports as failed for good.
PERMANENT_SAMPLES: dict[str, list[str]] = {
    "aol.eml": ["gonefishing@aol.com"],  # a screen name, on the sender's domain
    "caiwireless.eml": ["gone@caiwireless.example"],
    "dsn_commented_action.eml": ["gone@messaging.example"],  # "Action: failed (...)"
    "exchange_ndr.eml": ["gone@exchange.example"],
    "exim_plain.eml": ["gone@exim.example"],
    "gmail_plain.eml": ["gone@gmail.example"],  # SimpleMatch
    "groupwise.eml": ["gone@groupwise.example"],
    "llnl.eml": ["gone@llnl.example"],
    "microsoft_smtpsvc.eml": ["gone@hotmail.example"],
    "netscape.eml": ["gone@netscape.example"],  # a status part without recipients
    "opensmtpd_error.eml": ["gone@opensmtpd.example"],  # "Action: error"
    "postfix_plain.eml": ["gone@postfix.example"],
    "qmail_no_mailbox.eml": ["nobody@qmail.example"],
    "sendmail_plain.eml": ["gone@sendmail.example"],  # SimpleMatch
    "sina.eml": ["gone@sina.example"],
    "smtp32.eml": ["gone@imail.example"],
    "yahoo.eml": ["gone@yahoo.example"],
    "yale.eml": ["eli@cs.yale.edu", "eli@yale.edu"],  # a user name; both domains guessed
}
# Samples that are no bounce: the server will keep trying, gave up after temporary
# failures only, or the message states no failure (an automatic reply).
TEMPORARY_SAMPLES: dict[str, str] = {
    "exim_delay_warning.eml": "slow@exim.example",
    "gmail_delayed.eml": "slow@gmail.example",  # SimpleWarning
    "qmail_gave_up_4xx.eml": "slow@qmail.example",
    "out_of_office.eml": "away@office.example",
}


def sample(name: str, message_id: str | None = None, delivered_to: str | None = None) -> bytes:
    """The stored sample `name`, about the digest with `message_id` (SAMPLE_ID if None),
    and as delivered to `delivered_to` too if given (the MTA's header on top)."""
    raw = (PAYLOADS / name).read_bytes()
    if message_id is not None:
        raw = raw.replace(SAMPLE_ID.encode(), message_id.encode())
    if delivered_to is not None:
        raw = f"Delivered-To: {delivered_to}\n".encode() + raw
    return raw


def qmail_bounce(
    recipients: dict[str, str],
    message_id: str | None = None,
    *,
    delivered_to: str = RETURN_PATH,
    subject: str = "Trending papers, 25 November 2026",
) -> bytes:
    """A qmail-send bounce naming each recipient with its reason, the original quoted after
    it (none when `message_id` is None)."""
    paragraphs = "".join(f"<{address}>:\n{reason}\n\n" for address, reason in recipients.items())
    quoted = ""
    if message_id is not None:
        to = ", ".join(recipients)
        quoted = (
            "--- Below this line is a copy of the message.\n\n"
            "Return-Path: <bounces@example.org>\n"
            + original_headers(to, message_id).replace("Trending papers, 25 November 2026", subject)
            + f"\n{subject}\n"
        )
    return _crlf(
        f"Delivered-To: {delivered_to}\n"
        "From: MAILER-DAEMON@mx.qmail.example\n"
        "Subject: failure notice\n\n"
        "Hi. This is the qmail-send program at mx.qmail.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        f"{paragraphs}{quoted}"
    )


def exim_text_bounce(
    recipients: dict[str, str], message_id: str | None, *, delivered_to: str = RETURN_PATH
) -> bytes:
    """Exim's plain-text bounce: X-Failed-Recipients and each address with its SMTP error."""
    failures = "".join(
        f"  {address}\n    SMTP error from remote mail server after RCPT TO:<{address}>:\n"
        f"    {error}\n\n"
        for address, error in recipients.items()
    )
    quoted = "" if message_id is None else original_headers(", ".join(recipients), message_id)
    return _crlf(
        f"Envelope-to: {delivered_to}\n"
        f"X-Failed-Recipients: {', '.join(recipients)}\n"
        "From: Mail Delivery System <Mailer-Daemon@mx.exim.example>\n"
        "Subject: Mail delivery failed: returning message to sender\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n\n"
        f"{failures}"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        f"{quoted}"
    )


# --- hostile messages -----------------------------------------------------------------------


def nested_multipart(depth: int) -> bytes:
    """A delivery report buried `depth` multipart levels deep."""
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth)
    )
    closing = "".join(f"\r\n--b{i}--\r\n" for i in reversed(range(depth)))
    report = (
        "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
        "Final-Recipient: rfc822; victim@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    )
    return f"From: x@example.net\r\nMIME-Version: 1.0\r\n{opening}{report}{closing}".encode()


def nested_rfc822(depth: int) -> bytes:
    """Messages attached inside messages, `depth` levels deep."""
    return (
        b"From: x@example.net\r\n"
        + b"Content-Type: message/rfc822\r\n\r\n" * depth
        + b"Subject: the innermost\r\n\r\nhello\r\n"
    )


def many_parts(count: int) -> bytes:
    """A report with `count` small parts before its delivery status."""
    parts = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(count))
    return (
        "From: x@example.net\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        f"{parts}--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Final-Recipient: rfc822; victim@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b--\r\n"
    ).encode()


def huge(megabytes: int) -> bytes:
    """A report followed by `megabytes` of text."""
    line = b"A" * 76 + b"\r\n"
    return (
        multipart_dsn("victim@example.com", original="")[: -len(b"--BOUNDARY--\r\n")]
        + b"--BOUNDARY\r\nContent-Type: text/plain\r\n\r\n"
        + line * (megabytes * 1024 * 1024 // len(line))
        + b"--BOUNDARY--\r\n"
    )


def long_header(size: int) -> bytes:
    """A report whose first header is a To: list of `size` bytes."""
    return b"To: " + b"a@b.example, " * (size // 13) + b"\r\n" + bare_dsn("victim@example.com")


def junk(size: int) -> bytes:
    """Deterministic binary noise."""
    return bytes((i * 2654435761 >> 13) & 0xFF for i in range(size))


HOSTILE: dict[str, Callable[[], bytes]] = {
    "1000 nested multiparts": lambda: nested_multipart(1000),
    "3000 nested message/rfc822": lambda: nested_rfc822(3000),
    "20,000 parts": lambda: many_parts(20_000),
    "a 40 MB message": lambda: huge(40),
    "a 2 MB header": lambda: long_header(2_000_000),
    "binary junk": lambda: junk(2_000_000),
}
