"""What the digest templates are told about an edition, and the wording that varies by reader."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from digest import links
from digest.settings import EmailSettings

WEEK = timedelta(days=6)  # a weekly edition covers its date and the six days before
DASH = "\u2013"  # en dash, as in "19\u201325 November"


def long_date(day: date) -> str:
    """'Wednesday 25 November 2026'."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def short_date(day: date) -> str:
    """'Wed 25 Nov'."""
    return f"{day:%a} {day.day} {day:%b}"


def week_range(last: date, *, short: bool = False) -> str:
    """The seven days ending `last`, e.g. 19-25 November 2026 (short: 19-25 Nov), en-dashed."""
    first = last - WEEK
    month = "%b" if short else "%B"
    year = "" if short else f" {last.year}"
    if first.month == last.month:
        return f"{first.day}{DASH}{last.day} {last:{month}}{year}"
    if first.year == last.year or short:
        return f"{first.day} {first:{month}} {DASH} {last.day} {last:{month}}{year}"
    return f"{first.day} {first:{month} %Y} {DASH} {last.day} {last:{month} %Y}"


def edition_context(
    settings: EmailSettings, edition_date: date, *, weekly: bool, sample: bool
) -> dict[str, Any]:
    """The variables every subscriber of one edition shares."""
    return {
        "list_name": settings.list_name,
        "contact": settings.contact,
        "postal_address": settings.postal_address,
        "home_url": links.home_url(settings),
        "archive_url": links.archive_url(settings, edition_date),
        "archive_index_url": links.archive_url(settings),
        "weekly": weekly,
        "sample": sample,
        "header_date": f"Week of {week_range(edition_date)}" if weekly else long_date(edition_date),
        "subject_date": (
            f"week of {week_range(edition_date, short=True)}"
            if weekly
            else short_date(edition_date)
        ),
        "style_nonce": None,
        "archive": False,
    }


def intro_line(count: int, *, weekly: bool, personal: bool = True) -> str:
    """ "Today's 10 trending research papers, picked for you." and its variants."""
    when = "This week's" if weekly else "Today's"
    end = ", picked for you." if personal else "."
    return f"{when} {count} trending research paper{'' if count == 1 else 's'}{end}"
