"""Render an edition for thousands of subscribers: inline CSS once, personalise by joining.

premailer costs milliseconds a pass, so it never runs per subscriber. The page skeleton and
each paper's row are rendered with placeholders where a subscriber's values go (links,
address, position, "why it's here"), inlined once, and cached; `render` then joins the
cached pieces in the reader's order and fills the placeholders with escaped values.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from operator import attrgetter
from typing import Any

from jinja2 import Template
from markupsafe import Markup, escape

from digest import links
from digest.errors import ConfigError
from digest.papers import EditionEntry
from digest.render.context import edition_context, intro_line
from digest.render.dkim import DkimSigner
from digest.render.headers import (
    UnsafeHeader,
    angle_list_value,
    header_value,
    mailbox,
    text_value,
)
from digest.render.inline import inline_css
from digest.render.message import clean_subject, digest_message_id
from digest.render.mime import assemble, html_part_size, make_boundary, serialise
from digest.render.personal import PersonalTemplate, Placeholders
from digest.render.templates import SEPARATOR, environment, excerpt
from digest.settings import EmailSettings

WHY_MAX_CHARS = 200
# The HTML part's size at most: Gmail clips a message past ~102 KB of HTML, footer included.
HTML_BUDGET = 101_000
HTML_WHY = re.compile(r'<p class="why"[^>]*>.*?</p>\s?', re.DOTALL)
TEXT_WHY = re.compile(r"^[^\n]*Why it's here:[^\n]*\n", re.MULTILINE)


PaperKey = tuple[Hashable, ...]


@dataclass(frozen=True)
class WireMessage:
    """A finished message as the bytes SMTP sends (CRLF, 7-bit, not yet dot-stuffed)."""

    data: bytes
    message_id: str


def paper_key(entry: EditionEntry) -> PaperKey:
    """Everything that shapes a paper's cached row (what a subscriber changes is a placeholder)."""
    return (
        entry.arxiv_id,
        entry.title,
        entry.url,
        tuple(entry.authors),
        entry.abstract,
        entry.pdf_url,
        entry.code_url,
        entry.project_url,
        entry.upvotes,
        entry.comments,
        entry.stars,
        tuple(entry.categories),
        entry.summary,
        tuple(entry.keywords),
        entry.thumbnail_url,
        entry.organisation,
        entry.source,
    )


class DigestRenderer:
    """Built once per edition batch; `render` makes one subscriber's message in well under 1 ms."""

    def __init__(
        self,
        settings: EmailSettings,
        edition_date: date,
        *,
        weekly: bool = False,
        sample: bool = False,
    ) -> None:
        self.settings = settings
        self.edition_date = edition_date
        self.weekly = weekly
        self.signer = DkimSigner.from_settings(settings)
        self.premailer_passes = 0
        self._context = edition_context(settings, edition_date, weekly=weekly, sample=sample)
        env = environment(settings.template_dir)
        self._html = env.get_template("email/digest/body.html")
        self._text = env.get_template("email/digest/body.txt")
        self._subject = env.get_template("email/digest/subject.txt")
        self._paper_html = env.get_template("email/digest/paper.html").module.paper_row  # type: ignore[attr-defined]
        self._paper_text = env.get_template("email/digest/paper.txt").module.paper_text  # type: ignore[attr-defined]
        self._omitted_row = env.get_template("email/digest/paper.html").module.omitted_row  # type: ignore[attr-defined]
        self._ph = Placeholders()
        self._html_pages: dict[bool, PersonalTemplate] = {}
        self._text_pages: dict[bool, PersonalTemplate] = {}
        self._html_rows: dict[PaperKey, PersonalTemplate] = {}
        self._text_rows: dict[PaperKey, PersonalTemplate] = {}
        self._subjects: dict[str | None, str] = {}
        # The "why it's here" line, cut out of the first inlined row: rows are then the same
        # for readers with and without a reason, and the line is filled in or left out.
        self._html_why = self._text_why = PersonalTemplate([""])
        # One boundary per batch: the MIME headers then repeat and are parsed only once.
        self._boundary = make_boundary()
        self._from = _configured("DIGEST_FROM", "From", settings.from_address)
        self._list_id = _configured("DIGEST_LIST_NAME", "List-Id", settings.list_id)

    def render(
        self, *, subscriber_id: int, email: str, entries: Sequence[EditionEntry]
    ) -> EmailMessage:
        """This subscriber's digest of `entries` (shown in rank order), signed if DKIM is set."""
        headers, text, html = self._compose(subscriber_id, email, entries)
        message = assemble(headers, text, html, self._boundary)
        return self.signer.sign(message) if self.signer else message

    def render_wire(
        self, *, subscriber_id: int, email: str, entries: Sequence[EditionEntry]
    ) -> WireMessage:
        """The same digest as `render`, as the bytes SMTP sends (signed if DKIM is set).

        Written straight from the cached fragments, with no email.generator pass; ASCII
        addresses only (one that needs SMTPUTF8 takes `render`).
        """
        if not email.isascii():
            raise ValueError("render_wire writes 7-bit headers; this address needs SMTPUTF8")
        headers, text, html = self._compose(subscriber_id, email, entries)
        data = serialise(headers, text, html, self._boundary)
        if self.signer:
            data = self.signer.sign_bytes(data)
        message_id = next(value for name, value in headers if name == "Message-ID")
        return WireMessage(data, message_id)

    def _compose(
        self, subscriber_id: int, email: str, entries: Sequence[EditionEntry]
    ) -> tuple[list[tuple[str, str]], str, str]:
        """The folded headers, the text and the HTML of one subscriber's digest."""
        ordered = sorted(entries, key=attrgetter("rank"))
        keys = [paper_key(entry) for entry in ordered]
        self._prepare(ordered, keys)
        personal = links.SubscriberLinks.make(self.settings, subscriber_id, email)
        top_title = ordered[0].title if ordered else None
        shared = {
            "email": email,
            "unsubscribe": personal.unsubscribe,
            "preferences": personal.preferences,
            "intro": intro_line(len(ordered), weekly=self.weekly),
        }
        html_rows: list[str] = []
        text_rows: list[str] = []
        for position, (entry, key) in enumerate(zip(ordered, keys, strict=True), start=1):
            why = why_line(entry.why)
            paper = {
                "position": str(position),
                "more": personal.feedback(entry.arxiv_id, True),
                "less": personal.feedback(entry.arxiv_id, False),
            }
            html_paper = _escaped(paper)
            html_paper["whyline"] = self._html_why.fill({"why": str(escape(why))}) if why else ""
            paper["whyline"] = self._text_why.fill({"why": why}) if why else ""
            html_rows.append(self._html_rows[key].fill(html_paper))
            text_rows.append(self._text_rows[key].fill(paper))
        has_entries = bool(ordered)
        html = self._within_budget(self._html_pages[has_entries], _escaped(shared), html_rows)
        text = self._text_pages[has_entries].fill({**shared, "papers": "".join(text_rows)})
        headers = self._headers(subscriber_id, email, top_title, personal)
        return headers, text, html

    def _within_budget(
        self, page: PersonalTemplate, values: Mapping[str, str], rows: Sequence[str]
    ) -> str:
        """The page with as many paper rows as keep its HTML part within HTML_BUDGET bytes,
        then a line saying how many did not fit: past ~102 KB Gmail clips the message, and
        the footer (unsubscribe link, postal address) with it. The text part keeps them all."""
        html = page.fill({**values, "papers": "".join(rows)})
        size = html_part_size(html)
        if size <= HTML_BUDGET:
            return html
        # Rarely reached (non-Latin text, as character references, takes 4-8 bytes a
        # character): guess from the rows' own sizes, then measure.
        sizes = [html_part_size(row) for row in rows]
        notice = html_part_size(self._omitted(len(rows), len(rows)))  # the longest it can be
        left = HTML_BUDGET - (size - sum(sizes)) - notice
        kept = 0
        while kept < len(rows) and sizes[kept] <= left:
            left -= sizes[kept]
            kept += 1
        while True:
            papers = "".join(rows[:kept]) + self._omitted(len(rows) - kept, len(rows))
            html = page.fill({**values, "papers": papers})
            if kept == 0 or html_part_size(html) <= HTML_BUDGET:
                return html
            kept -= 1

    def _omitted(self, count: int, total: int) -> str:
        return str(self._omitted_row(count, total))

    def render_reference(
        self, *, subscriber_id: int, email: str, entries: Sequence[EditionEntry]
    ) -> EmailMessage:
        """The same message made the slow way, premailer on the whole of it: for tests and bench."""
        ordered = sorted(entries, key=attrgetter("rank"))
        personal = links.SubscriberLinks.make(self.settings, subscriber_id, email)
        top_title = ordered[0].title if ordered else None
        values: dict[str, Any] = {
            "email": email,
            "unsubscribe_url": personal.unsubscribe,
            "preferences_url": personal.preferences,
            "intro": intro_line(len(ordered), weekly=self.weekly),
            "has_entries": bool(ordered),
        }
        html_rows: list[str] = []
        text_rows: list[str] = []
        for position, entry in enumerate(ordered, start=1):
            args = (
                entry,
                str(position),
                why_line(entry.why),
                personal.feedback(entry.arxiv_id, True),
                personal.feedback(entry.arxiv_id, False),
            )
            html_rows.append(self._paper_html(*args, self.settings.show_thumbnails))
            text_rows.append(self._paper_text(*args))
        html = inline_css(self._page(self._html, values, Markup("".join(html_rows))))
        text = self._page(self._text, values, "".join(text_rows))
        headers = self._headers(subscriber_id, email, top_title, personal)
        message = assemble(headers, text, html, self._boundary)
        return self.signer.sign(message) if self.signer else message

    def _page(self, template: Template, values: Mapping[str, Any], rows: str) -> str:
        return template.render({**self._context, **values, "rows": rows})

    def _placeholder_values(self, has_entries: bool) -> dict[str, Any]:
        ph = self._ph
        return {
            "email": ph["email"],
            "unsubscribe_url": ph["unsubscribe"],
            "preferences_url": ph["preferences"],
            "intro": ph["intro"],
            "has_entries": has_entries,
        }

    def _prepare(self, ordered: Sequence[EditionEntry], keys: Sequence[PaperKey]) -> None:
        """Inline, in one premailer pass, the page and every paper row not cached yet."""
        has_entries = bool(ordered)
        missing: dict[PaperKey, EditionEntry] = {}
        for entry, key in zip(ordered, keys, strict=True):
            if key not in self._html_rows:
                missing.setdefault(key, entry)
        if not missing and has_entries in self._html_pages:
            return
        ph, values = self._ph, self._placeholder_values(has_entries)
        html_rows: list[str] = [ph.marker("rows")]
        for index, (key, entry) in enumerate(missing.items()):
            args = (entry, ph["position"], ph["why"], ph["more"], ph["less"])
            row = self._paper_html(*args, self.settings.show_thumbnails)
            html_rows += [ph.marker(f"s{index}"), row, ph.marker(f"e{index}")]
            text, self._text_why = self._cut_why(self._paper_text(*args), TEXT_WHY)
            self._text_rows[key] = ph.compile(text)
        html_rows.append(ph.marker("end"))
        page = inline_css(self._page(self._html, values, Markup("".join(html_rows))))
        self.premailer_passes += 1
        for index, key in enumerate(missing):
            row = _between(page, ph.marker(f"s{index}"), ph.marker(f"e{index}"))
            row, self._html_why = self._cut_why(compact_lines(row), HTML_WHY)
            self._html_rows[key] = ph.compile(row)
        if has_entries not in self._html_pages:
            head, _, rest = page.partition(ph.marker("rows"))
            _, _, tail = rest.partition(ph.marker("end"))
            page_html = compact_lines(head) + "\n" + ph["papers"] + "\n" + compact_lines(tail)
            self._html_pages[has_entries] = ph.compile(page_html)
            text = self._page(self._text, values, ph["papers"])
            self._text_pages[has_entries] = ph.compile(text)

    def _cut_why(self, row: str, pattern: re.Pattern[str]) -> tuple[str, PersonalTemplate]:
        """The row with its why line replaced by a placeholder, and that line's template."""
        found = pattern.search(row)
        assert found is not None and self._ph["why"] in found.group(0), "paper templates changed"
        rest = row[: found.start()] + self._ph["whyline"] + row[found.end() :]
        return rest, self._ph.compile(found.group(0))

    def _headers(
        self,
        subscriber_id: int,
        email: str,
        top_title: str | None,
        personal: links.SubscriberLinks,
    ) -> list[tuple[str, str]]:
        unsubscribe = [f"<{personal.unsubscribe}>"]
        if self.settings.unsubscribe_mailbox:
            token = personal.unsubscribe_token
            unsubscribe.append(
                f"<mailto:{self.settings.unsubscribe_mailbox}?subject=unsubscribe%20{token}>"
            )
        message_id = digest_message_id(self.settings, subscriber_id, self.edition_date)
        return [
            ("From", self._from),
            ("To", mailbox("To", email)),
            ("Subject", self._subject_for(top_title)),
            ("Date", format_datetime(datetime.now(UTC))),
            ("Message-ID", message_id),
            ("List-Id", self._list_id),
            ("List-Unsubscribe", angle_list_value("List-Unsubscribe", unsubscribe)),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]

    def _subject_for(self, top_title: str | None) -> str:
        if top_title not in self._subjects:
            subject = self._subject.render({**self._context, "top_title": top_title})
            self._subjects[top_title] = text_value("Subject", clean_subject(subject))
        return self._subjects[top_title]


def why_line(why: str) -> str:
    """Ranking's reason, cut to WHY_MAX_CHARS, its parts joined as the email joins lists."""
    # Ranking joins reasons with " · ", which the 7-bit HTML part would send as "&#183;".
    return excerpt(why, WHY_MAX_CHARS).replace(SEPARATOR, "; ")


def _configured(setting: str, name: str, value: str) -> str:
    """A header made from a setting; ConfigError naming the setting if it cannot be one."""
    try:
        return header_value(name, value)
    except UnsafeHeader as exc:
        raise ConfigError(f"{setting} cannot be written as the {name} header: {exc}") from None


def _escaped(values: Mapping[str, str]) -> dict[str, str]:
    return {key: str(escape(value)) for key, value in values.items()}


# Whitespace beside a block-level tag is never drawn: it only costs bytes, a few dozen per
# paper. Whitespace between inline elements ("1.</span> <a>") is a space and stays.
_BLOCK_TAG = r"</?(?:table|tbody|tr|td|p|h1|h2|div|main)\b[^>]*>"
_BEFORE_BLOCK = re.compile(rf"\s+(?={_BLOCK_TAG})")
_AFTER_BLOCK = re.compile(rf"({_BLOCK_TAG})\s+")
_ENDS_WITH_BLOCK = re.compile(rf"{_BLOCK_TAG}$")
_STARTS_WITH_BLOCK = re.compile(_BLOCK_TAG)


def compact_lines(html: str, width: int = 400) -> str:
    """Re-break HTML into lines of about `width` characters (a newline and a space are the
    same to HTML), without the whitespace beside block-level tags: the message then has a
    few dozen lines instead of hundreds, which is what serialising it costs."""
    lines: list[str] = []
    line = ""
    for piece in html.split("\n"):
        piece = _AFTER_BLOCK.sub(r"\1", _BEFORE_BLOCK.sub("", piece.strip()))
        if not piece:
            continue
        if line and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = piece
        elif _ENDS_WITH_BLOCK.search(line) or _STARTS_WITH_BLOCK.match(piece):
            line += piece
        else:
            line = f"{line} {piece}" if line else piece
    if line:
        lines.append(line)
    return "\n".join(lines)


def _between(text: str, start: str, end: str) -> str:
    begin = text.index(start) + len(start)
    return text[begin : text.index(end, begin)]
