"""The Atom feeds: the public archive's, and each subscriber's own ranked edition."""

from __future__ import annotations

from digest.errors import DigestError, InvalidToken
from digest.pipeline.preview import preview_edition
from digest.render.atom import build_atom
from digest.render.feeds import (
    EMPTY_ARCHIVE_UPDATED,
    PublishedDay,
    archive_feed,
    personal_feed,
)
from digest.settings import Settings
from digest.store.archive import archive_days
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.store.pools import find_pool, pool_entries
from digest.store.subscribers import subscriber_for_token
from digest.store.types import utcnow
from digest.tokens import TokenSubject

ARCHIVE_FEED_DAYS = 30


class FeedGone(DigestError):
    """The personal feed's subscriber has left, been deleted or is not (yet) active."""


def build_archive_feed(db: Database, settings: Settings, *, self_url: str) -> bytes:
    """The public archive as Atom: the newest days, each with its public edition."""
    size = settings.web.archive_papers
    with db.session() as session:
        days = []
        for summary in archive_days(session, size, ARCHIVE_FEED_DAYS):
            pool = find_pool(session, summary.day)
            entries = pool_entries(session, pool, limit=size) if pool is not None else []
            days.append(PublishedDay(summary.day, summary.created_at, entries))
    return build_atom(archive_feed(settings.email, days, self_url=self_url))


def build_personal_feed(
    db: Database, settings: Settings, subject: TokenSubject, *, self_url: str
) -> bytes:
    """The subscriber's edition of the latest day as Atom, picked as their preview is (their
    follows, ratings and what they already received); FeedGone once they are not active."""
    with db.session() as session:
        try:
            subscriber = subscriber_for_token(session, subject)
        except InvalidToken:
            raise FeedGone("this feed's subscription no longer exists") from None
        if subscriber.state is not SubscriberState.ACTIVE:
            raise FeedGone("this feed's subscription has ended")
        follows = (list(subscriber.topics), list(subscriber.categories), subscriber.authors)
        size = subscriber.edition_size
    topics, categories, authors = follows
    edition = preview_edition(
        db,
        settings,
        subject.subscriber_id,
        topics=topics,
        categories=categories,
        authors=list(authors),
        size=size,
    )
    day, published_at, entries = utcnow().date(), EMPTY_ARCHIVE_UPDATED, []
    if edition is not None:
        day, entries = edition.day, edition.entries
        with db.session() as session:
            pool = find_pool(session, edition.day)
            if pool is not None:
                published_at = pool.created_at
    feed = personal_feed(
        settings.email, subject.subscriber_id, day, published_at, entries, self_url=self_url
    )
    return build_atom(feed)
