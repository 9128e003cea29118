"""Bounce and complaint intake: RFC 3464 delivery reports, RFC 5965 abuse reports, and
bounces in the formats other servers send (read in digest.mail.bounce_formats).

Parsing only: what a report says happened to which address, which message it is about and
where it was delivered. Deciding whether it is about mail we sent, and applying it, is the
pipeline's job (digest.pipeline.bounces); reports come from a Maildir, read here too, or
from a provider's webhook.

Every message is read at a cost linear in a bounded input, whatever it holds: at most
MAX_REPORT_BYTES and MAX_REPORT_LINES of it, refused before parsing when a cheap scan shows
more MIME parts than any report has, walked without recursion to at most MAX_DEPTH levels
and MAX_PARTS parts; each field value is cut to MAX_FIELD_CHARS before it is unfolded or
cleaned, and at most MAX_ADDRESS_CHARS of a header go to the address parser.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses
from itertools import islice
from pathlib import Path
from typing import Any

from digest.errors import DigestError
from digest.mail.bounce_formats import Failure, TextBounce, TooManyAddresses, read_text_bounce

log = logging.getLogger(__name__)

STATUS_TYPES = (
    "message/delivery-status",
    "message/global-delivery-status",
    "text/delivery-status",  # seen from misconfigured MTAs
)
FEEDBACK_TYPES = ("message/feedback-report",)
ORIGINAL_TYPES = ("message/rfc822", "message/global", "text/rfc822-headers")
ORIGINAL_HEADER_TYPES = ("text/rfc822-headers", "message/global-headers")

Fields = dict[str, list[str]]

MAX_REPORT_BYTES = 1024 * 1024  # read of each message; a report is a few kilobytes
# Lines of each message parsed: the email package's cost is per line (a blank line in a
# status part is a whole message object), and a report with the headers of its original
# fits in a few hundred.
MAX_REPORT_LINES = 5_000
MAX_FIELD_CHARS = 1_000  # of one field's value, unfolded; the longest we read is an address
# Of one header's values handed to getaddresses, which costs ~2 µs a character.
MAX_ADDRESS_CHARS = 2_000
# Of a text/rfc822-headers part parsed again as headers; a real header block is a few KB.
MAX_ORIGINAL_HEADER_CHARS = 64 * 1024
MAX_CONTENT_TYPES = 100  # Content-Type fields a message may have before it is parsed
# Multipart ones: the parser checks each line against the boundary of every level open.
MAX_MULTIPARTS = 40
MAX_DELIMITERS = 1000  # lines starting with "--" (boundary lines) before it is parsed
MAX_DEPTH = 20  # MIME levels walked
MAX_PARTS = 200  # MIME parts walked
MAX_RECIPIENTS = 50  # addresses one report may name; each of ours goes to one
# Headers the receiving MTA writes with the envelope recipient: where a VERP address shows.
DELIVERED_TO_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "to")
MAX_DELIVERED_TO = 20  # addresses taken from those headers

# The compat32 policy keeps headers as plain strings: no structured header parser (whose
# cost on hostile input is hard to bound) runs while the message is read.
PARSE_POLICY = policy.compat32
# Matched in the lower-cased message after a "\n", so that each starts with a line break:
# a leading alternative (\A|...) or IGNORECASE would make the scan several times slower.
_CONTENT_TYPE_FIELD = re.compile(rb"[\r\n]content-type:")
_MULTIPART_FIELD = re.compile(rb"[\r\n]content-type:[ \t\r\n]*multipart/")
_DELIMITER_LINE = re.compile(rb"[\r\n]--")
_LINE_END = re.compile(rb"\r\n?|\n")  # what the email package splits lines at
_MSG_ID = re.compile(r"<[^<>\s]{1,250}>")


class EventKind(enum.StrEnum):
    BOUNCE = "bounce"
    COMPLAINT = "complaint"


@dataclass(frozen=True)
class MailEvent:
    """A permanent bounce of, or an abuse complaint about, one address."""

    kind: EventKind
    email: str  # as reported; normalised when applied
    message_id: str | None = None  # of the message that bounced, when the report has it
    detail: str = ""


@dataclass(frozen=True)
class ParsedReport:
    events: list[MailEvent]
    ignored: int  # recipients delayed or soft-failed, and non-abuse feedback
    delivered_to: tuple[str, ...] = ()  # addresses the report itself was delivered to


class UnreadableReport(DigestError):
    """A message that is no delivery status notification or feedback report we can read."""


@dataclass
class BounceReport:
    """What an intake run did; addresses are counted, never kept."""

    messages: int = 0
    bounced: int = 0  # addresses newly suppressed as bounced
    complained: int = 0  # addresses newly suppressed as complained
    already: int = 0  # already suppressed: a repeated report
    unknown: int = 0  # no subscriber has the address
    unmatched: int = 0  # not tied to mail we sent to the address: not applied
    invalid: int = 0  # not an email address
    ignored: int = 0  # delayed, temporary or non-abuse reports
    unreadable: int = 0  # messages skipped as malformed

    def counts(self) -> dict[str, int]:
        return asdict(self)

    def summary(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in self.counts().items())


def mask_email(email: str) -> str:
    """A loggable form of an address: first character and domain only."""
    local, at, domain = email.rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


# --- reading reports ----------------------------------------------------------------------


def parse_report(raw: bytes) -> ParsedReport:
    """The events one raw DSN, ARF or other bounce reports; raise UnreadableReport if none.

    Only the first MAX_REPORT_BYTES and MAX_REPORT_LINES are read: the report comes before
    any returned original's body.
    """
    raw = first_lines(raw[:MAX_REPORT_BYTES], MAX_REPORT_LINES)
    refusal = prescan(raw)
    if refusal is not None:
        raise UnreadableReport(refusal)
    try:
        return _read(message_from_bytes(raw, policy=PARSE_POLICY))
    except UnreadableReport:
        raise
    except Exception as exc:
        # The email package raises many exception types on hostile input; one bad
        # message must never stop the intake of the others.
        raise UnreadableReport(f"cannot parse the message ({type(exc).__name__})") from None


def first_lines(raw: bytes, limit: int) -> bytes:
    """At most the first `limit` lines of `raw` (a cut, like the byte cap, not a refusal)."""
    for count, end in enumerate(_LINE_END.finditer(raw), start=1):
        if count == limit:
            return raw[: end.end()]
    return raw


def prescan(raw: bytes) -> str | None:
    """Why `raw` is too complex to hand to the email package, or None.

    Each MIME level needs a Content-Type field and each part a boundary line, so counting
    those bounds both the nesting (the parser recurses once per level, and checks each line
    against the boundary of every multipart level open) and the parts.
    """
    text = b"\n" + raw.lower()
    if _more_than(MAX_CONTENT_TYPES, _CONTENT_TYPE_FIELD, text):
        return f"more than {MAX_CONTENT_TYPES} Content-Type fields"
    if _more_than(MAX_MULTIPARTS, _MULTIPART_FIELD, text):
        return f"more than {MAX_MULTIPARTS} multipart Content-Type fields"
    if _more_than(MAX_DELIMITERS, _DELIMITER_LINE, text):
        return f"more than {MAX_DELIMITERS} MIME boundary lines"
    return None


def _more_than(limit: int, pattern: re.Pattern[bytes], text: bytes) -> bool:
    return next(islice(pattern.finditer(text), limit, None), None) is not None


def _read(message: Message) -> ParsedReport:
    parts = _parts(message)
    original = _original(parts)
    attached_id, referenced_id = _message_id(original), _referenced_id(message)
    message_id = attached_id or referenced_id
    delivered_to = _delivered_to(message)
    status_parts = [part for part in parts if part.get_content_type() in STATUS_TYPES]
    if status_parts:
        blocks = _field_blocks(status_parts[0])
        # Without a recipient block, the text may still name them (Netscape's servers).
        if any(_names_recipient(block) for block in blocks):
            return _with(_read_status(blocks, message_id), delivered_to)
    else:
        feedback = next((p for p in parts if p.get_content_type() in FEEDBACK_TYPES), None)
        if feedback is not None:
            report = _read_feedback(_merged(_field_blocks(feedback)), original, message_id)
            return _with(report, delivered_to)
    try:
        bounce = read_text_bounce(message)
    except TooManyAddresses as exc:
        raise UnreadableReport(str(exc)) from None
    if bounce is None:
        raise UnreadableReport(
            "the delivery report names no recipient"
            if status_parts
            else "neither a delivery status notification nor a feedback report, "
            "nor a bounce in another format we know"
        )
    report = _read_text_bounce(bounce, attached_id or bounce.message_id or referenced_id)
    return _with(report, delivered_to)


def _read_text_bounce(bounce: TextBounce, message_id: str | None) -> ParsedReport:
    for address in bounce.temporary:
        log.info("ignoring %s: no permanent failure reported", mask_email(address))
    events = [
        MailEvent(EventKind.BOUNCE, failure.address, message_id, _text_detail(failure))
        for failure in bounce.failures
    ]
    return ParsedReport(events, len(bounce.temporary))


def _text_detail(failure: Failure) -> str:
    return f"status {failure.status}" if failure.status else "bounce text"


def _names_recipient(block: Fields) -> bool:
    return "final-recipient" in block or "original-recipient" in block


def _with(report: ParsedReport, delivered_to: tuple[str, ...]) -> ParsedReport:
    return ParsedReport(report.events, report.ignored, delivered_to)


def _read_status(blocks: list[Fields], message_id: str | None) -> ParsedReport:
    recipients = [block for block in blocks if _names_recipient(block)]
    if len(recipients) > MAX_RECIPIENTS:
        raise UnreadableReport(f"the delivery report names more than {MAX_RECIPIENTS} recipients")
    events: list[MailEvent] = []
    ignored = 0
    for block in recipients:
        # The original recipient is the address we sent to; the final one may be an alias.
        address = _address(_first(block, "original-recipient")) or _address(
            _first(block, "final-recipient")
        )
        action = _first(block, "action").lower()
        status = (_first(block, "status").split() or [""])[0]
        if address is None:
            log.info("ignoring a recipient without an address in a delivery report")
            ignored += 1
        elif _is_hard_bounce(action, status, _first(block, "diagnostic-code")):
            events.append(MailEvent(EventKind.BOUNCE, address, message_id, f"status {status}"))
        else:
            log.info(
                "ignoring %s (status %s) for %s",
                action or "no action",
                status or "none",
                mask_email(address),
            )
            ignored += 1
    return ParsedReport(events, ignored)


def _is_hard_bounce(action: str, status: str, diagnostic: str) -> bool:
    """Action failed with a permanent (5.x.x) status; 4.x.x and delayed are not final.

    Some MTAs comment the action ("failed (bad destination mailbox address)"), and
    OpenSMTPD writes "error" for "failed".
    """
    action = (re.split(r"[\s(;]", action, maxsplit=1)[0]).lower()
    if action == "error":
        action = "failed"
    if action not in ("failed", ""):
        return False
    if status:
        return status.startswith("5")
    # No Status field: fall back to the SMTP reply, as in "smtp; 550 5.1.1 no such user".
    return action == "failed" and diagnostic.partition(";")[2].strip()[:1] == "5"


def _read_feedback(
    fields: Fields, original: Message | None, message_id: str | None
) -> ParsedReport:
    kind = _first(fields, "feedback-type").lower()
    if kind != "abuse":
        log.info("ignoring a %s feedback report", kind or "untyped")
        return ParsedReport([], 1)
    pieces = (piece for value in fields.get("original-rcpt-to", []) for piece in value.split(","))
    unique = _distinct_addresses(address for piece in pieces if (address := _address(piece)))
    if not unique and original is not None:
        unique = _distinct_addresses(_header_addresses(original, "to"))
    if not unique:
        raise UnreadableReport("the abuse report names no recipient (redacted?)")
    return ParsedReport(
        [MailEvent(EventKind.COMPLAINT, a, message_id, "abuse report") for a in unique], 0
    )


def _distinct_addresses(addresses: Iterable[str]) -> list[str]:
    """The distinct addresses, in order; UnreadableReport as soon as there are too many."""
    unique: dict[str, None] = {}
    for address in addresses:
        unique[address.strip()] = None
        if len(unique) > MAX_RECIPIENTS:
            raise UnreadableReport(f"the abuse report names more than {MAX_RECIPIENTS} recipients")
    return list(unique)


def _parts(message: Message) -> list[Message]:
    """The message and its parts in order, without descending into an attached original;
    UnreadableReport past MAX_DEPTH levels or MAX_PARTS parts."""
    found: list[Message] = []
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack:
        part, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UnreadableReport(f"MIME parts nested more than {MAX_DEPTH} levels deep")
        found.append(part)
        if len(found) > MAX_PARTS:
            raise UnreadableReport(f"more than {MAX_PARTS} MIME parts")
        if part.get_content_maintype() == "multipart":
            payload = part.get_payload()
            if isinstance(payload, list):
                children = [child for child in payload if isinstance(child, Message)]
                stack.extend((child, depth + 1) for child in reversed(children))
    return found


def _original(parts: Iterable[Message]) -> Message | None:
    """The headers of the message the report is about, when it came back with it."""
    for part in parts:
        kind = part.get_content_type()
        if kind not in ORIGINAL_TYPES and kind not in ORIGINAL_HEADER_TYPES:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload:
            first = payload[0]
            return first if isinstance(first, Message) else None
        headers = _text(part)[:MAX_ORIGINAL_HEADER_CHARS]
        return HeaderParser(policy=PARSE_POLICY).parsestr(headers, headersonly=True)
    return None


def _message_id(original: Message | None) -> str | None:
    if original is None:
        return None
    value = _header_value(original, "message-id").strip().strip("<>").strip()
    return f"<{value}>" if value and len(value) <= 250 else None


def _referenced_id(message: Message) -> str | None:
    """The id the report says it answers (In-Reply-To, References), for reports that came
    back without the original's headers."""
    for name in ("in-reply-to", "references"):
        found = _MSG_ID.search(_header_value(message, name))
        if found:
            return found.group(0)
    return None


def _delivered_to(message: Message) -> tuple[str, ...]:
    """The envelope recipients the receiving MTA recorded, and the To: addresses."""
    addresses: list[str] = []
    for name in DELIVERED_TO_HEADERS:
        addresses.extend(_header_addresses(message, name))
    return tuple(dict.fromkeys(addresses))[:MAX_DELIVERED_TO]


def _header_addresses(message: Message, name: str) -> list[str]:
    """The addresses in the first MAX_ADDRESS_CHARS of a header's values."""
    values: list[str] = []
    room = MAX_ADDRESS_CHARS
    for value in message.get_all(name, []):
        if room <= 0:
            break
        values.append(_clean(str(value)[:room]))
        room -= len(values[-1])
    return [address for _, address in getaddresses(values) if "@" in address]


def _header_value(message: Message, name: str) -> str:
    """The first value of a header, cut to MAX_FIELD_CHARS, or ""."""
    return _clean(str(message.get(name, ""))[:MAX_FIELD_CHARS])


def _field_blocks(part: Message) -> list[Fields]:
    """The groups of "Name: value" fields of a status or feedback part."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return _parse_blocks(_text(part))
    blocks: list[Fields] = []
    for block in payload:
        if not isinstance(block, Message):
            continue
        fields: Fields = {}
        for name, value in block.items():
            fields.setdefault(name.lower(), []).append(_clean(str(value)[:MAX_FIELD_CHARS]))
        blocks.append(fields)
        body = block.get_payload()
        if isinstance(body, str) and body.strip():
            # message/global-delivery-status parses as one message: its body holds the rest.
            blocks.extend(_parse_blocks(body))
    return blocks


def _parse_blocks(text: str) -> list[Fields]:
    """The blocks of "Name: value" fields of a text, separated by blank lines."""
    blocks: list[Fields] = [{}]
    for field in _unfolded_fields(text):
        if field is None:
            if blocks[-1]:
                blocks.append({})
        else:
            name, value = field
            blocks[-1].setdefault(name, []).append(value)
    return [block for block in blocks if block]


def _unfolded_fields(text: str) -> Iterator[tuple[str, str] | None]:
    """Each field of `text` as (lower-case name, value), None for a blank line.

    Continuation lines are gathered and joined once, and no more of them than fit in
    MAX_FIELD_CHARS: a flood of them costs its length, not its length squared.
    """
    name: str | None = None
    pieces: list[str] = []
    length = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and line[0] in " \t" and name is not None:
            if length < MAX_FIELD_CHARS:
                pieces.append(stripped)
                length += len(stripped) + 1
            continue
        if name is not None:
            yield name, " ".join(pieces)[:MAX_FIELD_CHARS]
            name = None
        if not stripped:
            yield None
        elif ":" in line:
            label, _, value = line.partition(":")
            name, pieces = label.strip().lower(), [value.strip()]
            length = len(pieces[0])
    if name is not None:
        yield name, " ".join(pieces)[:MAX_FIELD_CHARS]


def _merged(blocks: list[Fields]) -> Fields:
    merged: Fields = {}
    for block in blocks:
        for name, values in block.items():
            merged.setdefault(name, []).extend(values)
    return merged


def _text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return str(part.get_payload())
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _first(fields: Fields, name: str) -> str:
    values = fields.get(name)
    return values[0].strip() if values else ""


def _address(value: str) -> str | None:
    """The address of a field like "rfc822; <Someone@Example.org>", or None."""
    _, _, address = value.rpartition(";")
    address = address.strip().strip("<>").strip()
    return address if "@" in address else None


def _clean(value: str) -> str:
    # Undecodable header bytes surface as lone surrogates, which cannot be logged or stored.
    return value.encode("utf-8", "replace").decode("utf-8")


# --- a provider's webhook -----------------------------------------------------------------

EXPECTED_SHAPE = (
    '{"events": [{"type": "bounce" or "complaint", "email": "...", "message_id": "<...>"}]}'
)


class BadPayload(DigestError):
    """A webhook body that is not JSON of the expected shape."""


def parse_webhook_events(body: bytes) -> tuple[list[MailEvent], int]:
    """The events of a webhook body, and how many entries were not valid events."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadPayload(f"the body is not valid JSON; expected {EXPECTED_SHAPE}") from None
    if isinstance(data, dict) and "events" in data:
        items = data["events"]
    elif isinstance(data, dict) and ("type" in data or "email" in data):
        items = [data]
    elif isinstance(data, list):
        items = data
    else:
        raise BadPayload(f"expected {EXPECTED_SHAPE}")
    if not isinstance(items, list):
        raise BadPayload(f'"events" must be a list; expected {EXPECTED_SHAPE}')
    events = [event for item in items if (event := _event(item)) is not None]
    return events, len(items) - len(events)


def _event(item: Any) -> MailEvent | None:
    if not isinstance(item, dict):
        return None
    kind, email = item.get("type"), item.get("email")
    if not isinstance(kind, str) or not isinstance(email, str):
        return None
    try:
        event_kind = EventKind(kind.strip().lower())
    except ValueError:
        return None
    return MailEvent(event_kind, email, _webhook_message_id(item), detail="webhook")


def _webhook_message_id(item: dict[Any, Any]) -> str | None:
    """The event's message id under any spelling of the key: message_id, Message-ID,
    messageId, ...; null or empty counts as none, and any other value as an id (that no
    message of ours has, if it is not a string)."""
    for key, value in item.items():
        if not isinstance(key, str) or re.sub(r"[-_ ]", "", key).lower() != "messageid":
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            return "<>"
        found = _MSG_ID.search(value[:1000])
        return found.group(0) if found else f"<{value.strip()[:250]}>"
    return None


# --- the Maildir --------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxMessage:
    """One message of a Maildir's new/: its file name and at most `max_bytes` of it."""

    name: str
    raw: bytes
    truncated: bool = False  # the file is larger than what was read


class MaildirInbox:
    """The new messages of a Maildir, each filed under cur/ as seen once it is handled.

    Files are read and moved as they are, never parsed here: whatever a message holds, it
    costs one capped read and one rename, so no message can block the folder.
    """

    def __init__(self, path: Path, max_bytes: int = MAX_REPORT_BYTES) -> None:
        if not (path / "new").is_dir() or not (path / "cur").is_dir():
            raise DigestError(f"{path} is not a Maildir (it needs new/ and cur/ folders)")
        self.path = path
        self.max_bytes = max_bytes

    def new_messages(self) -> Iterator[InboxMessage]:
        """Each message in new/, oldest name first (read when its turn comes)."""
        names = sorted(
            entry.name
            for entry in os.scandir(self.path / "new")
            if entry.is_file() and not entry.name.startswith(".")
        )
        for name in names:
            try:
                with open(self.path / "new" / name, "rb") as file:
                    raw = file.read(self.max_bytes + 1)
            except FileNotFoundError:  # taken by an import running at the same time
                continue
            except OSError as exc:
                log.warning("cannot read message %s: %s", name, exc.strerror or exc)
                raw = b""
            yield InboxMessage(name, raw[: self.max_bytes], len(raw) > self.max_bytes)

    def file_as_seen(self, message: InboxMessage) -> None:
        """Move the message from new/ to cur/ with the Seen flag (the Maildir convention)."""
        unique, _, info = message.name.partition(":")
        flags = set(info[2:]) if info.startswith("2,") else set()
        target = f"{unique}:2,{''.join(sorted(flags | {'S'}))}"
        try:
            os.rename(self.path / "new" / message.name, self.path / "cur" / target)
        except FileNotFoundError:
            pass  # filed by an import running at the same time
        except OSError as exc:
            # It stays in new/ and is read again next time; applying it twice is harmless.
            log.warning("could not file message %s as seen: %s", message.name, exc)
