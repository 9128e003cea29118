"""Editions shown before they are sent: the CLI's preview and the preferences page's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from email.message import EmailMessage

from digest.addresses import normalise_email
from digest.errors import DigestError
from digest.papers import EditionEntry
from digest.pipeline.editions import pick_editions, profiles_of
from digest.pipeline.pool import day_pool, pool_by_id
from digest.rank.features import Follows
from digest.rank.mutes import Mutes
from digest.render.digest import render_digest
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Subscriber
from digest.store.pools import latest_pool
from digest.store.subscribers import find_by_email
from digest.store.types import utcnow


def preview_digest(db: Database, settings: Settings, raw_email: str, day: date) -> EmailMessage:
    """The message `raw_email` would get for `day` as things stand (building the pool if
    needed); papers they already received are left out, as in a real send."""
    email = normalise_email(raw_email)
    pool = day_pool(db, settings.ranking, day, utcnow())
    if pool is None:
        raise DigestError(f"no papers for {day}: run `digest fetch` first")
    with db.session() as session:
        subscriber = find_by_email(session, email)
        if subscriber is None:
            raise DigestError(f"no subscriber {email}")
        subscriber_id = subscriber.id
        profiles = profiles_of(session, [subscriber], pool)
    [entries] = pick_editions(pool, profiles, settings.ranking)
    return render_digest(
        settings.email,
        subscriber_id=subscriber_id,
        email=email,
        edition_date=day,
        entries=entries,
        sample=pool.is_sample,
    )


@dataclass(frozen=True)
class EditionPreview:
    day: date
    entries: list[EditionEntry]


def preview_edition(
    db: Database,
    settings: Settings,
    subscriber_id: int,
    *,
    topics: Sequence[str],
    categories: Sequence[str],
    authors: Sequence[str],
    size: int,
    muted: Sequence[str] | None = None,
    muted_authors: Sequence[str] | None = None,
) -> EditionPreview | None:
    """The latest pool's edition for this subscriber if they followed what is given (their
    ratings and what they already received count too); None before the first pool exists.

    What they mute is what is stored unless `muted` and `muted_authors` are given."""
    with db.session() as session:
        latest = latest_pool(session)
        if latest is None:
            return None
        pool_id = latest.id
    pool = pool_by_id(db, pool_id, settings.ranking)
    if pool is None:
        return None
    with db.session() as session:
        subscriber = session.get_one(Subscriber, subscriber_id)
        [profile] = profiles_of(session, [subscriber], pool)
    follows = Follows(topics=tuple(topics), categories=tuple(categories), authors=tuple(authors))
    mutes = profile.mutes
    if muted is not None or muted_authors is not None:
        mutes = Mutes(
            phrases=tuple(muted if muted is not None else mutes.phrases),
            authors=tuple(muted_authors if muted_authors is not None else mutes.authors),
        )
    [entries] = pick_editions(
        pool, [replace(profile, follows=follows, size=size, mutes=mutes)], settings.ranking
    )
    return EditionPreview(pool.day, entries)
