"""Operator edits of what a subscriber follows and mutes (the preferences page edits the same
fields)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from digest.addresses import normalise_email
from digest.errors import DigestError
from digest.preferences import (
    check_edition_size,
    parse_authors,
    parse_categories,
    parse_muted,
    parse_muted_authors,
    parse_topics,
)
from digest.store.models import Subscriber
from digest.store.subscribers import find_by_email


@dataclass(frozen=True)
class FollowChanges:
    """Fields to replace; None leaves a field as it is, an empty string clears it."""

    topics: str | None = None
    categories: str | None = None
    authors: str | None = None
    edition_size: int | None = None


@dataclass(frozen=True)
class MuteChanges:
    """Mutes to replace; None leaves a list as it is, an empty string clears it."""

    phrases: str | None = None
    authors: str | None = None


def change_follows(session: Session, raw_email: str, changes: FollowChanges) -> Subscriber:
    """Apply the changes to one subscriber, validating each field first."""
    subscriber = _subscriber(session, raw_email)
    if changes.topics is not None:
        subscriber.topics = parse_topics(changes.topics)
    if changes.categories is not None:
        subscriber.categories = parse_categories(changes.categories)
    if changes.authors is not None:
        subscriber.authors = parse_authors(changes.authors)
    if changes.edition_size is not None:
        subscriber.edition_size = check_edition_size(changes.edition_size)
    return subscriber


def change_mutes(session: Session, raw_email: str, changes: MuteChanges) -> Subscriber:
    """Replace what one subscriber mutes, validating each list first."""
    subscriber = _subscriber(session, raw_email)
    phrases = parse_muted(changes.phrases) if changes.phrases is not None else None
    authors = parse_muted_authors(changes.authors) if changes.authors is not None else None
    if phrases is not None:
        subscriber.muted = phrases
    if authors is not None:
        subscriber.muted_authors = authors
    return subscriber


def _subscriber(session: Session, raw_email: str) -> Subscriber:
    email = normalise_email(raw_email)
    subscriber = find_by_email(session, email)
    if subscriber is None:
        raise DigestError(f"no subscriber {email}")
    return subscriber
