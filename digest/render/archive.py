"""The public web view of an edition: the email's look, no personal links, a way to subscribe."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from operator import attrgetter

from markupsafe import Markup

from digest.papers import EditionEntry
from digest.render.context import edition_context, intro_line
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
    site_root: str | None = None,
) -> str:
    """The email's "view in browser" page without personal links, as one standalone page in
    the email's own chrome (the site's /archive/YYYY-MM-DD puts `render_paper_rows` in its own).

    Its one <style> carries `style_nonce` for the CSP: CSS stays in that block (not inlined),
    which a page's CSP can allow by nonce, whereas inline style attributes would need
    'unsafe-inline'. With `site_root` (the web app's path prefix), the links to the rest of
    the site are relative to it instead of DIGEST_BASE_URL.
    """
    env = environment(settings.template_dir)
    paper_row = env.get_template("email/digest/paper.html").module.paper_row  # type: ignore[attr-defined]
    ordered = sorted(entries, key=attrgetter("rank"))
    rows = "".join(
        paper_row(entry, str(position), "", None, None)
        for position, entry in enumerate(ordered, start=1)
    )
    context = edition_context(settings, edition_date, weekly=weekly, sample=sample)
    if site_root is not None:
        context.update(
            home_url=f"{site_root}/",
            archive_url=f"{site_root}/archive/{edition_date.isoformat()}",
            archive_index_url=f"{site_root}/archive",
        )
    return env.get_template("email/digest/body.html").render(
        {
            **context,
            "archive": True,
            "style_nonce": style_nonce,
            "has_entries": bool(ordered),
            "intro": intro_line(len(ordered), weekly=weekly, personal=False),
            "rows": Markup(rows),
        }
    )


def render_paper_rows(settings: EmailSettings, entries: Sequence[EditionEntry]) -> Markup:
    """The email's own paper rows (its paper.html partial) for the public web page: the same
    markup as the email, in rank order, with no reason line and no feedback links."""
    env = environment(settings.template_dir)
    paper_row = env.get_template("email/digest/paper.html").module.paper_row  # type: ignore[attr-defined]
    ordered = sorted(entries, key=attrgetter("rank"))
    return Markup(
        "".join(
            paper_row(entry, str(position), "", None, None)
            for position, entry in enumerate(ordered, start=1)
        )
    )
