"""The preview of a subscriber's next edition on the preferences page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from digest.pipeline.preview import preview_edition
from digest.preferences import Preferences
from digest.settings import Settings
from digest.store.db import Database
from digest.web.pages import PaperCard, human_date, paper_card


@dataclass(frozen=True)
class Preview:
    edition_date: date
    papers: list[PaperCard]
    asked: int  # the number of papers the settings ask for

    @property
    def day_label(self) -> str:
        return human_date(self.edition_date)


def preview_cards(
    db: Database, settings: Settings, subscriber_id: int, prefs: Preferences
) -> Preview | None:
    """The latest edition as `prefs` would shape it for this subscriber, as cards."""
    preview = preview_edition(
        db,
        settings,
        subscriber_id,
        topics=prefs.topics,
        categories=prefs.categories,
        authors=prefs.authors,
        size=prefs.edition_size,
        muted=prefs.muted,
        muted_authors=prefs.muted_authors,
    )
    if preview is None:
        return None
    return Preview(
        preview.day, [paper_card(entry) for entry in preview.entries], prefs.edition_size
    )
