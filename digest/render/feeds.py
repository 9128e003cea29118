"""The two Atom feeds as values: the public archive (one entry a day) and a subscriber's own
edition (one entry a paper). No address of anyone is put in either."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import attrgetter
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from digest import links
from digest.links import http_url
from digest.papers import EditionEntry, abs_url
from digest.render.atom import AtomEntry, AtomFeed
from digest.render.context import long_date
from digest.render.templates import excerpt, shorten_authors, trend_line
from digest.settings import EmailSettings
from digest.tokens import mail_tag

SUMMARY_LENGTH = 300  # the email's abstract excerpt
EMPTY_ARCHIVE_UPDATED = datetime(2026, 1, 1, tzinfo=UTC)  # any fixed moment: nothing changed


@dataclass(frozen=True)
class PublishedDay:
    """One day of the public archive: when its pool was frozen and its public edition."""

    day: date
    published_at: datetime
    entries: Sequence[EditionEntry]


def archive_feed(
    settings: EmailSettings, days: Sequence[PublishedDay], *, self_url: str
) -> AtomFeed:
    """The public archive: the newest days first, each entry listing that day's papers."""
    updated = max((day.published_at for day in days), default=EMPTY_ARCHIVE_UPDATED)
    return AtomFeed(
        id=links.archive_url(settings),
        title=settings.list_name,
        subtitle="Every edition of the overall top trending research papers.",
        updated=updated,
        author=settings.list_name,
        self_url=self_url,
        alternate_url=links.archive_url(settings),
        entries=[_day_entry(settings, day) for day in days],
    )


def personal_feed(
    settings: EmailSettings,
    subscriber_id: int,
    day: date,
    published_at: datetime,
    entries: Sequence[EditionEntry],
    *,
    self_url: str,
) -> AtomFeed:
    """A subscriber's own ranked edition, one entry a paper in their order.

    The feed id is keyed with the secret (stable for the subscriber, telling nothing); entry
    ids are the papers' arXiv pages, so a paper seen on two days is one entry in a reader.
    """
    host = urlsplit(settings.base_url).hostname or "localhost"
    tag = mail_tag(settings.secret_key, f"feed:{subscriber_id}")
    return AtomFeed(
        id=f"tag:{host},2026:feed:{tag}",
        title=f"{settings.list_name}: your edition",
        subtitle=f"Your ranked papers of {long_date(day)}.",
        updated=published_at,
        author=settings.list_name,
        self_url=self_url,
        alternate_url=links.archive_url(settings, day),
        entries=[
            _paper_entry(entry, published_at) for entry in sorted(entries, key=attrgetter("rank"))
        ],
    )


def _day_entry(settings: EmailSettings, day: PublishedDay) -> AtomEntry:
    ordered = sorted(day.entries, key=attrgetter("rank"))
    count = len(ordered)
    items = Markup("").join(Markup("<li>{}</li>").format(_title_link(entry)) for entry in ordered)
    return AtomEntry(
        id=links.archive_url(settings, day.day),
        title=f"{long_date(day.day)}: {count} paper{'' if count == 1 else 's'}",
        updated=day.published_at,
        published=day.published_at,
        link=links.archive_url(settings, day.day),
        summary=f"Top paper: {ordered[0].title}" if ordered else "No papers were trending.",
        content_html=str(Markup("<ol>{}</ol>").format(items)) if ordered else "",
    )


def _paper_entry(entry: EditionEntry, published_at: datetime) -> AtomEntry:
    page = http_url(entry.url) or abs_url(entry.arxiv_id)
    return AtomEntry(
        id=abs_url(entry.arxiv_id),
        title=entry.title,
        updated=published_at,
        published=entry.published_at,
        link=page,
        authors=[name for name in entry.authors[:10] if name.strip()],
        categories=list(entry.categories),
        summary=excerpt(entry.abstract, SUMMARY_LENGTH),
        content_html=_paper_html(entry),
    )


def _title_link(entry: EditionEntry) -> Markup:
    page = http_url(entry.url)
    if page is None:
        return escape(entry.title)
    return Markup('<a href="{}">{}</a>').format(page, entry.title)


def _paper_html(entry: EditionEntry) -> str:
    parts = [Markup("<p>{}</p>").format(shorten_authors(entry.authors))] if entry.authors else []
    if trend := trend_line(entry):
        parts.append(Markup("<p>{}</p>").format(trend))
    if entry.why:
        parts.append(Markup("<p><strong>Why it's here:</strong> {}</p>").format(entry.why))
    if entry.abstract.strip():
        parts.append(Markup("<p>{}</p>").format(excerpt(entry.abstract, SUMMARY_LENGTH)))
    extra = [
        Markup('<a href="{}">{}</a>').format(url, label)
        for label, url in (
            ("PDF", http_url(entry.pdf_url)),
            ("Code", http_url(entry.code_url)),
            ("Project page", http_url(entry.project_url)),
        )
        if url
    ]
    if extra:
        parts.append(Markup("<p>{}</p>").format(Markup(" · ").join(extra)))
    return str(Markup("").join(parts))
