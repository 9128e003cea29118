"""The preview of a subscriber's next edition on the preferences page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from digest.settings import Settings
from digest.store.db import Database
from digest.store.editions import edition_entries, latest_edition
from digest.store.subscribers import Preferences
from digest.web.pages import PaperCard, paper_card


@dataclass(frozen=True)
class Preview:
    edition_date: date
    papers: list[PaperCard]


def preview_edition(
    db: Database, settings: Settings, subscriber_id: int, prefs: Preferences
) -> Preview | None:
    """The next edition as `prefs` would shape it; None before the first edition exists.

    The one place to call personalised ranking from once it lands; until then it is the
    latest general edition cut to the chosen number of papers.
    """
    with db.session() as session:
        edition = latest_edition(session)
        if edition is None:
            return None
        entries = edition_entries(session, edition)[: prefs.edition_size]
        return Preview(edition.date, [paper_card(entry) for entry in entries])
