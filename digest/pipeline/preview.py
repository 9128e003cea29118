"""Render one subscriber's digest without sending it."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage

from digest.addresses import normalise_email
from digest.errors import DigestError
from digest.pipeline.profiles import load_profiles
from digest.pipeline.send import load_edition, personal_entries
from digest.render.digest import render_digest
from digest.settings import Settings
from digest.store.db import Database
from digest.store.subscribers import find_by_email
from digest.store.types import utcnow


def preview_digest(db: Database, settings: Settings, raw_email: str, day: date) -> EmailMessage:
    """The message `raw_email` would get for `day` as things stand (building the edition if
    needed); papers they already received are left out, as in a real send."""
    email = normalise_email(raw_email)
    content = load_edition(db, settings, day, utcnow())
    if content is None:
        raise DigestError(f"no papers for {day}: run `digest fetch` first")
    with db.session() as session:
        subscriber = find_by_email(session, email)
        if subscriber is None:
            raise DigestError(f"no subscriber {email}")
        subscriber_id = subscriber.id
        profiles = load_profiles(session, [subscriber], content.pool)
    [entries] = personal_entries(content, profiles, settings)
    return render_digest(
        settings,
        subscriber_id=subscriber_id,
        email=email,
        edition_date=day,
        entries=entries,
        sample=content.is_sample,
    )
