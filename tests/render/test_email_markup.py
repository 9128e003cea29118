"""Every email kind as it is sent, read the way filters and mail clients read it: no hidden
text, the same links in both parts, valid markup, a landmark, buttons made of table cells,
and a digest that Gmail does not clip even at the largest edition a reader can choose."""

from __future__ import annotations

import email
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest

from digest.papers import EditionEntry
from digest.pipeline.kinds import KINDS
from digest.pipeline.notices import render_subscriber_email
from digest.preferences import MAX_EDITION_SIZE
from digest.render import DigestRenderer
from digest.settings import EmailSettings, Settings
from digest.store.db import Database
from digest.store.models import Base
from tests.factories import make_paper, make_pool, make_subscriber
from tests.render.factories import LONG_ABSTRACT, LONG_TITLES, long_entry, make_entry

EDITION = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
READER = "jean-luc.picard-smith@starfleet-academy.org"
GMAIL_CLIPS_AT = 102_000  # bytes of HTML; past it Gmail hides the rest, footer included
# Attributes an email may carry for clients that ignore CSS, and the elements HTML allows
# them on (premailer used to add bgcolor to <p> and <a> and width to <body>).
PRESENTATIONAL = {
    "bgcolor": {"table", "td"},
    "width": {"table", "td", "img"},
    "height": {"img"},
    "align": {"table", "td"},
    "valign": {"td"},
    "cellpadding": {"table"},
    "cellspacing": {"table"},
    "border": {"table"},
}
HIDING = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(?![.\d]*[1-9])|"
    r"font-size\s*:\s*[0-2]px|max-(height|width)\s*:\s*0|color\s*:\s*transparent|mso-hide",
    re.IGNORECASE,
)
URL_IN_TEXT = re.compile(r"https?://\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def production(settings: Settings) -> EmailSettings:
    """What an operator runs with: a postal address, a contact, an unsubscribe mailbox."""
    return settings.model_copy(
        update={
            "postal_address": "Example Labs, 1 Long Street, 75001 Paris",
            "unsubscribe_mailbox": "unsubscribe@example.org",
        }
    ).email


def as_sent(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def digest(settings: EmailSettings, entries: list[EditionEntry]) -> EmailMessage:
    wire = DigestRenderer(settings, EDITION).render_wire(
        subscriber_id=4242, email=READER, entries=entries
    )
    return as_sent(wire.data)


def every_kind(settings: EmailSettings, folder: Path) -> Iterator[tuple[str, EmailMessage]]:
    """The digest at 1, 10 and the largest size a reader can choose, and every other kind,
    from a store where the reader's week had papers and no digest."""
    for size in (1, 10, MAX_EDITION_SIZE):
        yield f"digest-{size}", digest(settings, [long_entry(r) for r in range(1, size + 1)])
    db = Database(f"sqlite:///{folder / 'digest.db'}")
    Base.metadata.create_all(db.engine)
    try:
        with db.session() as session:
            reader = make_subscriber(session, READER)
            papers = [
                make_paper(session, listed_on=EDITION, title=title, abstract=LONG_ABSTRACT)
                for title in LONG_TITLES * 2
            ]
            make_pool(session, EDITION, papers)
            for kind in KINDS:
                notice = render_subscriber_email(
                    settings, kind, subscriber_id=reader.id, email=READER, session=session, now=NOW
                )
                yield kind, as_sent(notice.as_bytes())
    finally:
        db.dispose()


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_type() == f"text/{subtype}"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def html_part_bytes(message: EmailMessage) -> int:
    """The HTML part as it travels (Content-Transfer-Encoding applied, CRLF line ends)."""
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    payload = part.get_payload()
    assert isinstance(payload, str)
    return len(payload.replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii"))


@dataclass
class Markup(HTMLParser):
    """What a filter or a client sees in an HTML part."""

    elements: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    hrefs: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (text, the element around)
    loose_text: list[str] = field(default_factory=list)  # text outside any link
    stylesheets: list[str] = field(default_factory=list)
    _open: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.elements.append((tag, values))
        if tag == "a" and "href" in values:
            self.hrefs.append(values["href"])
            self.links.append(("", self._open[-1] if self._open else ""))
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] == "style":
            self.stylesheets.append(data)
        elif "a" not in self._open:
            self.loose_text.append(data)
        else:
            text, around = self.links[-1]
            self.links[-1] = (text + data, around)

    @classmethod
    def of(cls, html: str) -> Markup:
        parsed = cls()
        parsed.feed(html)
        return parsed

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            values
            for name, values in self.elements
            if name == tag and all(values.get(key) == value for key, value in attrs.items())
        ]


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, EmailMessage]:
    settings = Settings(
        secret_key="markup-test-secret-0123456789-0123456789",
        base_url="https://digest.example.org",
        DIGEST_FROM="Trending Papers <digest@example.org>",
        contact="ops@example.org",
    )
    return dict(every_kind(production(settings), tmp_path_factory.mktemp("store")))


def test_every_kind_is_covered(kinds: dict[str, EmailMessage]) -> None:
    assert {"digest-1", "digest-10", "digest-50", *KINDS} <= set(kinds)
    assert "missed_papers" in kinds


def test_the_largest_edition_is_not_clipped_by_gmail(kinds: dict[str, EmailMessage]) -> None:
    largest = kinds[f"digest-{MAX_EDITION_SIZE}"]
    assert html_part_bytes(largest) < GMAIL_CLIPS_AT
    page = Markup.of(body(largest, "html"))
    # Every paper is there, long titles, authors and links included, and so is the footer.
    assert len(page.find("td", **{"class": "paper"})) == MAX_EDITION_SIZE
    assert "did not fit" not in body(largest, "html")
    footer = body(largest, "html").rsplit('class="footer"', 1)[1]
    assert "Unsubscribe</a>" in footer and "Example Labs, 1 Long Street" in footer


def test_papers_that_would_be_clipped_give_way_to_the_footer(settings: Settings) -> None:
    """Titles and abstracts in a script sent as character references take four times the
    room: the papers that do not fit are left to the text part, never the footer."""
    wide = "注意力機制與長文本推理的稀疏專家混合模型" * 15
    entries = [make_entry(r, title=wide, abstract=wide, summary=wide) for r in range(1, 51)]
    message = digest(production(settings), entries)
    html, text = body(message, "html"), body(message, "plain")
    assert html_part_bytes(message) < GMAIL_CLIPS_AT
    shown = html.count('<td class="paper"><h2')
    assert 0 < shown < 50
    assert f"{50 - shown} more papers did not fit in this email" in html
    assert "Unsubscribe</a>" in html and "Example Labs" in html.rsplit('class="footer"', 1)[1]
    assert text.count("\n50. ") == 1  # the text part keeps them all


@pytest.mark.parametrize("kind", ["digest-1", "digest-10", "digest-50", *sorted(KINDS)])
def test_no_hidden_text(kinds: dict[str, EmailMessage], kind: str) -> None:
    page = Markup.of(body(kinds[kind], "html"))
    styles = [values.get("style", "") for _, values in page.elements] + page.stylesheets
    hiding = [found.group(0) for style in styles for found in HIDING.finditer(style)]
    assert hiding == []
    assert not page.find("div", **{"class": "preheader"})


@pytest.mark.parametrize("kind", ["digest-1", "digest-10", "digest-50", *sorted(KINDS)])
def test_the_text_part_carries_the_links_of_the_html_part(
    kinds: dict[str, EmailMessage], kind: str
) -> None:
    """Each URL as many times in one part as in the other (filters such as rspamd's
    URI_COUNT_ODD count them), and none as bare text in the HTML beside its links."""
    message = kinds[kind]
    page = Markup.of(body(message, "html"))
    in_html = Counter(href.removeprefix("mailto:") for href in page.hrefs)
    in_text = Counter(URL_IN_TEXT.findall(body(message, "plain")))
    loose = Counter(URL_IN_TEXT.findall(" ".join(page.loose_text)))
    in_text.subtract(loose)  # an address written out in both parts, linked in neither
    assert +in_text == in_html
    assert not [url for url in loose if url.startswith("http")]


@pytest.mark.parametrize("kind", ["digest-1", "digest-10", "digest-50", *sorted(KINDS)])
def test_markup_is_valid_email_html(kinds: dict[str, EmailMessage], kind: str) -> None:
    html = body(kinds[kind], "html")
    page = Markup.of(html)
    misplaced = [
        (tag, name)
        for tag, values in page.elements
        for name in values
        if name in PRESENTATIONAL and tag not in PRESENTATIONAL[name]
    ]
    assert misplaced == []
    [apple] = page.find("meta", name="x-apple-disable-message-reformatting")
    assert apple.get("content") == "yes"
    # The separators are plain: a "·" in the 7-bit part is a character reference, which
    # filters count as obfuscation.
    assert "&#183;" not in html and "&middot;" not in html
    # Links are never glued together ("PDFCode" reads as one word to a filter).
    assert "</a><a" not in html


@pytest.mark.parametrize("kind", ["digest-1", "digest-10", "digest-50", *sorted(KINDS)])
def test_the_content_sits_in_a_labelled_landmark(kinds: dict[str, EmailMessage], kind: str) -> None:
    html = body(kinds[kind], "html")
    page = Markup.of(html)
    [title] = re.findall(r"<title>(.*?)</title>", html)
    [article] = page.find("div", role="article")
    assert article["aria-label"] == title and article["lang"] == "en"
    assert len(page.find("main")) == 1
    # Inside the landmark: everything the reader sees, the footer included.
    landmark = html.split('role="article"', 1)[1]
    assert 'class="wrapper"' in landmark and 'class="footer"' in landmark


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_buttons_are_table_cells(kinds: dict[str, EmailMessage], kind: str) -> None:
    """What Outlook for Windows draws: the colour and the padding on the cell, not on an
    inline-block link (it ignores both there)."""
    page = Markup.of(body(kinds[kind], "html"))
    [cell] = page.find("td", **{"class": "button"})
    assert cell["bgcolor"] == "#1d4ed8"
    assert re.search(r"padding:\s*12px 24px", cell["style"])
    assert not [v for _, v in page.elements if "inline-block" in v.get("style", "")]


def test_every_paper_link_is_a_table_cell(kinds: dict[str, EmailMessage]) -> None:
    """The 44 px tap targets: each link in a cell of its own, whose padding is what spaces
    them in Outlook, where padding and inline-block on a link do nothing."""
    page = Markup.of(body(kinds["digest-10"], "html"))
    labels = {"PDF", "Code", "Project page", "Hugging Face", "More like this", "Less like this"}
    footer = {"Manage preferences", "Unsubscribe"}  # the web copy is linked once, at the top
    placed = Counter((text, around) for text, around in page.links if text in labels | footer)
    assert placed == Counter(
        {(label, "td"): 10 for label in labels} | {(label, "td"): 1 for label in footer}
    )
    # Outside `@media screen` (which Outlook ignores), nothing pads or blocks a link.
    base = "".join(page.stylesheets).split("@media")[0]
    on_links = [
        (selectors, declarations)
        for selectors, declarations in re.findall(r"([^{}]+)\{([^{}]*)\}", base)
        if any(selector.split()[-1] == "a" for selector in selectors.split(","))
        and re.search(r"padding|display", declarations)
    ]
    assert on_links == []
