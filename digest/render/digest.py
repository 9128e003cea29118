"""One subscriber's digest; to render many, build one DigestRenderer and reuse it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from email.message import EmailMessage

from digest.papers import EditionEntry
from digest.render.renderer import DigestRenderer
from digest.settings import EmailSettings


def render_digest(
    settings: EmailSettings,
    *,
    subscriber_id: int,
    email: str,
    edition_date: date,
    entries: Sequence[EditionEntry],
    sample: bool = False,
    weekly: bool = False,
) -> EmailMessage:
    """The digest email for one subscriber and edition."""
    renderer = DigestRenderer(settings, edition_date, weekly=weekly, sample=sample)
    return renderer.render(subscriber_id=subscriber_id, email=email, entries=entries)
