"""The public web view of an edition: the email's look, no personal links, a way to subscribe."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from operator import attrgetter

from markupsafe import Markup

from digest.papers import EditionEntry
from digest.render.context import edition_context, intro_line, preheader_text
from digest.render.templates import environment
from digest.settings import EmailSettings


def render_archive_html(
    settings: EmailSettings,
    edition_date: date,
    entries: Sequence[EditionEntry],
    *,
    weekly: bool = False,
    sample: bool = False,
    style_nonce: str | None = None,
) -> str:
    """The page for /archive/YYYY-MM-DD; its one <style> carries `style_nonce` for the CSP.

    CSS stays in the <style> block (not inlined): a page's CSP can allow that block by
    nonce, whereas inline style attributes would need 'unsafe-inline'.
    """
    env = environment(settings.template_dir)
    paper_row = env.get_template("email/digest/paper.html").module.paper_row  # type: ignore[attr-defined]
    ordered = sorted(entries, key=attrgetter("rank"))
    rows = "".join(
        paper_row(entry, str(position), "", None, None)
        for position, entry in enumerate(ordered, start=1)
    )
    context = edition_context(settings, edition_date, weekly=weekly, sample=sample)
    top_title = ordered[0].title if ordered else None
    return env.get_template("email/digest/body.html").render(
        {
            **context,
            "archive": True,
            "style_nonce": style_nonce,
            "has_entries": bool(ordered),
            "intro": intro_line(len(ordered), weekly=weekly, personal=False),
            "preheader": preheader_text(top_title, len(ordered)),
            "rows": Markup(rows),
        }
    )
