"""Bounce and complaint intake: read reports, suppress the addresses they name.

A hard bounce marks the address bounced and a complaint marks it complained; both states
are suppressed, so the address is never mailed again. Reports come from a Maildir
(`import_maildir`) or from a provider's webhook (`record_events`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from digest.addresses import normalise_email
from digest.errors import InvalidEmail
from digest.mail.bounces import (
    BadPayload,
    BounceReport,
    EventKind,
    MaildirInbox,
    MailEvent,
    UnreadableReport,
    mask_email,
    parse_report,
    parse_webhook_events,
)
from digest.store.bounces import Suppression, suppress_subscriber
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.store.types import utcnow

log = logging.getLogger(__name__)

__all__ = ["BadPayload", "apply_events", "import_maildir", "record_events", "record_webhook"]


def apply_events(
    session: Session, events: Iterable[MailEvent], now: datetime, report: BounceReport
) -> None:
    """Suppress the address of each event, counting the outcome in `report`."""
    for event in events:
        try:
            email = normalise_email(event.email)
        except InvalidEmail:
            log.info("ignoring a %s for an invalid address", event.kind.value)
            report.invalid += 1
            continue
        state = (
            SubscriberState.BOUNCED
            if event.kind is EventKind.BOUNCE
            else SubscriberState.COMPLAINED
        )
        outcome, subscriber = suppress_subscriber(
            session,
            email,
            state,
            detail=event.detail,
            bounced_message_id=event.message_id,
            now=now,
        )
        if outcome is Suppression.UNKNOWN:
            log.info("ignoring a %s for unknown address %s", event.kind.value, mask_email(email))
            report.unknown += 1
        elif outcome is Suppression.ALREADY:
            report.already += 1
        else:
            assert subscriber is not None
            log.info("%s: %s (%s)", mask_email(email), subscriber.state.value, event.detail)
            if event.kind is EventKind.BOUNCE:
                report.bounced += 1
            else:
                report.complained += 1


def record_events(
    db: Database, events: Iterable[MailEvent], now: datetime | None = None
) -> BounceReport:
    """Apply events pushed by a provider (the webhook) in one transaction."""
    report = BounceReport()
    with db.session() as session:
        apply_events(session, events, now or utcnow(), report)
    return report


def record_webhook(db: Database, body: bytes, now: datetime | None = None) -> BounceReport:
    """Apply the events of a provider's webhook body; BadPayload if it is not one."""
    events, invalid = parse_webhook_events(body)
    report = record_events(db, events, now)
    report.invalid += invalid
    return report


def import_maildir(db: Database, path: Path, now: datetime | None = None) -> BounceReport:
    """Process each new message of the Maildir, then file it under cur/ as seen."""
    inbox = MaildirInbox(path)
    report = BounceReport()
    for key, raw in inbox.new_messages():
        report.messages += 1
        try:
            parsed = parse_report(raw)
        except UnreadableReport as exc:
            log.warning("skipping report %s: %s", key, exc)
            report.unreadable += 1
        else:
            report.ignored += parsed.ignored
            with db.session() as session:
                apply_events(session, parsed.events, now or utcnow(), report)
        inbox.file_as_seen(key)
    return report
