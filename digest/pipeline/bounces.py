"""Bounce and complaint intake: read reports, suppress the addresses they name.

A hard bounce marks the address bounced and a complaint marks it complained; both states
are suppressed, so the address is never mailed again. Reports come from a Maildir
(`import_maildir`) or from a provider's webhook (`record_webhook`).

Anyone can send mail to the bounce mailbox, so a report is acted on only when it is tied to
mail we sent to the address it names: the original's Message-ID is one we signed for that
subscriber and an email with that id went out to them (a digest's delivery row, a notice's
outbox row), or the report came back to that subscriber's signed return path (VERP). Other
reports are counted as unmatched and change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Protocol

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
from digest.store.bounces import (
    Suppression,
    find_reported_subscriber,
    notice_was_sent,
    suppress_subscriber,
    was_sent,
)
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from digest.store.types import utcnow
from digest.tokens import read_message_id, verp_subscriber_id

log = logging.getLogger(__name__)

__all__ = [
    "BadPayload",
    "ReportSettings",
    "apply_events",
    "import_maildir",
    "record_events",
    "record_webhook",
]


class ReportSettings(Protocol):
    """What tying a report to our mail needs (the email settings, or the whole settings)."""

    @property
    def secret_key(self) -> str: ...

    @property
    def return_path(self) -> str | None: ...


def apply_events(
    session: Session,
    settings: ReportSettings,
    events: Iterable[MailEvent],
    now: datetime,
    report: BounceReport,
    *,
    verp_ids: frozenset[int] = frozenset(),
    trust_events_without_id: bool = False,
) -> None:
    """Suppress the address of each event that is tied to mail we sent it, counting the
    outcome in `report`.

    `verp_ids` are the subscribers whose signed return path the report came back to;
    `trust_events_without_id` applies events that carry no message id (the webhook, whose
    caller proved the shared secret).
    """
    for event in events:
        try:
            email = normalise_email(event.email)
        except InvalidEmail:
            log.info("ignoring a %s for an invalid address", event.kind.value)
            report.invalid += 1
            continue
        subscriber = find_reported_subscriber(session, email)
        if subscriber is None:
            log.info("ignoring a %s for unknown address %s", event.kind.value, mask_email(email))
            report.unknown += 1
            continue
        bounced_message_id = _sent_message_id(session, settings, subscriber, event)
        tied = (
            subscriber.id in verp_ids
            or bounced_message_id is not None
            or (event.message_id is None and trust_events_without_id)
        )
        if not tied:
            log.warning(
                "not applying a %s for %s: it is not tied to mail we sent to that address (%s)",
                event.kind.value,
                mask_email(email),
                "no message id" if event.message_id is None else "the message id is not ours",
            )
            report.unmatched += 1
            continue
        state = (
            SubscriberState.BOUNCED
            if event.kind is EventKind.BOUNCE
            else SubscriberState.COMPLAINED
        )
        outcome = suppress_subscriber(
            session,
            subscriber,
            state,
            detail=event.detail,
            bounced_message_id=bounced_message_id,
            now=now,
        )
        if outcome is Suppression.ALREADY:
            report.already += 1
            continue
        log.info("%s: %s (%s)", mask_email(email), subscriber.state.value, event.detail)
        if event.kind is EventKind.BOUNCE:
            report.bounced += 1
        else:
            report.complained += 1


def _sent_message_id(
    session: Session, settings: ReportSettings, subscriber: Subscriber, event: MailEvent
) -> str | None:
    """The event's message id if it is one we signed for this subscriber and an email with
    it (a digest's copy, a notice's outbox row) went out to them; else None."""
    if event.message_id is None:
        return None
    # Verified before any query: a forged id never reaches the database.
    signed = read_message_id(settings.secret_key, event.message_id)
    if signed is None or signed.subscriber_id != subscriber.id:
        return None
    sent = was_sent if signed.kind == "digest" else notice_was_sent
    if not sent(session, subscriber.id, event.message_id):
        return None
    return event.message_id


def record_events(
    db: Database,
    settings: ReportSettings,
    events: Iterable[MailEvent],
    now: datetime | None = None,
) -> BounceReport:
    """Apply events pushed by a provider (the webhook) in one transaction: those with a
    message id when it is one of ours, those without one on the webhook's secret."""
    report = BounceReport()
    with db.session() as session:
        apply_events(
            session, settings, events, now or utcnow(), report, trust_events_without_id=True
        )
    return report


def record_webhook(
    db: Database, settings: ReportSettings, body: bytes, now: datetime | None = None
) -> BounceReport:
    """Apply the events of a provider's webhook body; BadPayload if it is not one."""
    events, invalid = parse_webhook_events(body)
    report = record_events(db, settings, events, now)
    report.invalid += invalid
    return report


def import_maildir(
    db: Database, settings: ReportSettings, path: Path, now: datetime | None = None
) -> BounceReport:
    """Process each new message of the Maildir, then file it under cur/ as seen."""
    inbox = MaildirInbox(path)
    report = BounceReport()
    for message in inbox.new_messages():
        report.messages += 1
        if message.truncated:
            log.info("reading only the first %d bytes of report %s", len(message.raw), message.name)
        try:
            parsed = parse_report(message.raw)
        except UnreadableReport as exc:
            log.warning("skipping report %s: %s", message.name, exc)
            report.unreadable += 1
        else:
            report.ignored += parsed.ignored
            verp_ids = _verp_ids(settings, parsed.delivered_to)
            with db.session() as session:
                apply_events(
                    session, settings, parsed.events, now or utcnow(), report, verp_ids=verp_ids
                )
        inbox.file_as_seen(message)
    return report


def _verp_ids(settings: ReportSettings, addresses: Iterable[str]) -> frozenset[int]:
    """The subscribers whose signed return path is among `addresses`."""
    if not settings.return_path:
        return frozenset()
    found = (verp_subscriber_id(settings.secret_key, settings.return_path, a) for a in addresses)
    return frozenset(subscriber_id for subscriber_id in found if subscriber_id is not None)
