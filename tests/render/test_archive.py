from __future__ import annotations

import html
import re
from datetime import date
from html.parser import HTMLParser

from digest import links
from digest.render import render_archive_html
from digest.settings import Settings
from tests.render.factories import make_entry

EDITION = date(2026, 11, 25)


def test_archive_page_has_the_papers_and_no_personal_links(settings: Settings) -> None:
    entries = [make_entry(2), make_entry(1, title="The top one", why="You follow cs.LG")]
    page = render_archive_html(settings.email, EDITION, entries)
    assert page.index("The top one") < page.index("Paper ranked 2")
    assert "Wednesday 25 November 2026" in page
    for personal in ("token=", "/unsubscribe", "/preferences", "/feedback", "Why it's here"):
        assert personal not in page
    assert f'href="{links.home_url(settings)}"' in page and ">Subscribe</a>" in page
    assert f'href="{links.archive_url(settings)}"' in page


def test_archive_styles_come_from_one_nonced_block(settings: Settings) -> None:
    page = render_archive_html(settings.email, EDITION, [make_entry(1)], style_nonce="abc123")
    assert page.count("<style") == 1 and '<style nonce="abc123">' in page
    assert ' style="' not in page  # a nonce CSP forbids style attributes
    assert "<script" not in page


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, [name for name, _ in attrs]))


def _elements(page: str) -> list[tuple[str, list[str]]]:
    """Every element as a browser's parser sees it: (tag, attribute names)."""
    parser = _Elements()
    parser.feed(page)
    return parser.found


def test_hostile_papers_are_inert_on_the_archive_page(settings: Settings) -> None:
    hostile = make_entry(
        1,
        title='<script>alert(1)</script>"><img src=x onerror=alert(1)>',
        abstract="</p><iframe src=javascript:alert(1)>",
        url="javascript:alert(1)",
        authors=["<b>Mallory</b>"],
    )
    page = render_archive_html(settings.email, EDITION, [hostile])
    elements = _elements(page)
    assert not {tag for tag, _ in elements} & {"script", "img", "iframe", "b"}
    assert not [name for _, attrs in elements for name in attrs if name.startswith("on")]
    targets = re.findall(r'(?:href|src)="([^"]*)"', page)
    assert targets and all(target.startswith(("https://", "mailto:ops@")) for target in targets)
    assert '<script>alert(1)</script>"><img src=x onerror=alert(1)>' in html.unescape(page)


def test_empty_archive_day(settings: Settings) -> None:
    page = render_archive_html(settings.email, EDITION, [], weekly=True)
    assert "No papers are trending this week" in page


def test_web_rows_are_the_emails_paper_partial_without_personal_parts(settings: Settings) -> None:
    from digest.render.archive import render_paper_rows

    entries = [make_entry(2), make_entry(1, title="First <i>", why="You follow cs.LG")]
    rows = str(render_paper_rows(settings.email, entries))

    assert rows.index("First &lt;i&gt;") < rows.index("Paper ranked 2")
    assert rows.count('<td class="paper">') == 2 and 'class="paper-title"' in rows
    for personal in ("token=", "Why it's here", "More like this"):
        assert personal not in rows
