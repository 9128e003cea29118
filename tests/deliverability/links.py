"""The links of an email's two parts, counted as a filter or a reader meets them."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

URL = re.compile(r"https?://[^\s<>\"'`]+")
TRAILING = ".,;:!?)]}»"  # sentence punctuation after a URL in running text


def _urls_in_text(text: str) -> list[str]:
    return [url.rstrip(TRAILING) for url in URL.findall(text)]


class _HtmlLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._skip = 0
        self._anchor: str | None = None  # the href of the link being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "title", "head"):
            self._skip += 1
        href = dict(attrs).get("href") if tag == "a" else None
        if href and URL.fullmatch(href):
            self.urls.append(href)
            self._anchor = href

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title", "head") and self._skip:
            self._skip -= 1
        if tag == "a":
            self._anchor = None

    def handle_data(self, data: str) -> None:
        if not self._skip:
            # A link that shows its own address is one link, not two.
            self.urls.extend(url for url in _urls_in_text(data) if url != self._anchor)


def html_urls(html: str) -> Counter[str]:
    """Each http(s) URL of an HTML part: link targets, and URLs written out in its text
    other than a link's own address as its label."""
    parser = _HtmlLinks()
    parser.feed(html)
    parser.close()
    return Counter(parser.urls)


def text_urls(text: str) -> Counter[str]:
    """Each http(s) URL of a plain-text part."""
    return Counter(_urls_in_text(text))
