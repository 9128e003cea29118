"""Unsubscribe by email: the `mailto:` of List-Unsubscribe, read from a Maildir.

Each digest's List-Unsubscribe offers `mailto:DIGEST_UNSUBSCRIBE_MAILBOX?subject=unsubscribe
<token>`. The MTA delivers that mail into DIGEST_UNSUBSCRIBE_MAILDIR; each message whose
Subject carries a valid signed unsubscribe token unsubscribes that subscriber, exactly as
the one-click POST /unsubscribe does. Anything else changes nothing and is counted.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from pathlib import Path

from digest.errors import InvalidToken
from digest.mail.bounces import MaildirInbox
from digest.settings import EmailSettings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.store.subscribers import subscriber_for_token, unsubscribe
from digest.store.types import utcnow
from digest.tokens import Purpose, read_token

log = logging.getLogger(__name__)

MAX_SUBJECT_CHARS = 2000
RECEIVING = (SubscriberState.PENDING, SubscriberState.ACTIVE)
# "unsubscribe <token>", after any reply or forward prefixes; a client that did not decode
# the mailto: query may leave the space as %20.
_REQUEST = re.compile(
    r"(?:(?:re|fwd?|aw|sv|tr|wg)\s*(?:\[\d+\])?\s*:\s*)*"
    r"unsubscribe(?:\s+|%20)([A-Za-z0-9_.-]{1,1000})",
    re.IGNORECASE,
)


@dataclass
class UnsubscribeReport:
    """What one run did; addresses are counted, never kept."""

    messages: int = 0
    unsubscribed: int = 0
    already: int = 0  # no longer receiving: unsubscribed before, bounced or complained
    invalid: int = 0  # a token we did not sign, or for a subscription that is gone
    no_token: int = 0  # no "unsubscribe <token>" subject

    def counts(self) -> dict[str, int]:
        return asdict(self)

    def summary(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in self.counts().items())


def read_unsubscribe_token(raw: bytes) -> str | None:
    """The token of a message whose Subject is "unsubscribe <token>", or None."""
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
        value = headers.get("subject")
        if value is None:
            return None
        raw_subject = str(value)[:MAX_SUBJECT_CHARS]
        subject = str(make_header(decode_header(raw_subject)))
    except Exception:  # hostile headers raise many types; such a message asks for nothing
        return None
    # Folding leaves line breaks and runs of blanks; a token never contains any.
    found = _REQUEST.fullmatch(" ".join(subject.split()))
    return found.group(1) if found else None


def import_unsubscribes(
    db: Database, settings: EmailSettings, path: Path, now: datetime | None = None
) -> UnsubscribeReport:
    """Unsubscribe the subscriber named by each new message's signed token, then file the
    message under cur/ as seen, whatever it held."""
    inbox = MaildirInbox(path)
    report = UnsubscribeReport()
    for message in inbox.new_messages():
        report.messages += 1
        token = read_unsubscribe_token(message.raw)
        if token is None:
            log.info("ignoring unsubscribe message %s: no unsubscribe token", message.name)
            report.no_token += 1
        else:
            _unsubscribe(db, settings, token, message.name, now or utcnow(), report)
        inbox.file_as_seen(message)
    return report


def _unsubscribe(
    db: Database,
    settings: EmailSettings,
    token: str,
    name: str,
    now: datetime,
    report: UnsubscribeReport,
) -> None:
    try:
        subject = read_token(settings.secret_key, Purpose.UNSUBSCRIBE, token)
        with db.session() as session:
            before = subscriber_for_token(session, subject, lock=True).state
            subscriber = unsubscribe(session, subject, now)
    except InvalidToken as exc:
        log.warning("ignoring unsubscribe message %s: %s", name, exc)
        report.invalid += 1
        return
    if before in RECEIVING:
        log.info("subscriber %s unsubscribed (mailto)", subscriber.id)
        report.unsubscribed += 1
    else:
        report.already += 1
