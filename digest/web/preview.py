"""The preview of a subscriber's next edition on the preferences page."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from digest.pipeline.profiles import load_profiles
from digest.pipeline.send import load_edition_by_id, personal_entries
from digest.rank.features import Follows
from digest.settings import Settings
from digest.store.db import Database
from digest.store.editions import latest_edition
from digest.store.models import Subscriber
from digest.store.subscribers import Preferences
from digest.web.pages import PaperCard, paper_card


@dataclass(frozen=True)
class Preview:
    edition_date: date
    papers: list[PaperCard]


def preview_edition(
    db: Database, settings: Settings, subscriber_id: int, prefs: Preferences
) -> Preview | None:
    """The latest edition as `prefs` would shape it for this subscriber (their ratings and
    what they already received count too); None before the first edition exists."""
    with db.session() as session:
        edition = latest_edition(session)
        if edition is None:
            return None
        edition_id, day = edition.id, edition.date
    content = load_edition_by_id(db, edition_id)
    if content is None:
        return None
    with db.session() as session:
        subscriber = session.get_one(Subscriber, subscriber_id)
        [profile] = load_profiles(session, [subscriber], content.pool)
    profile = replace(
        profile,
        follows=Follows(
            topics=tuple(prefs.topics),
            categories=tuple(prefs.categories),
            authors=tuple(prefs.authors),
        ),
        size=prefs.edition_size,
    )
    [entries] = personal_entries(content, [profile], settings)
    return Preview(day, [paper_card(entry) for entry in entries])
