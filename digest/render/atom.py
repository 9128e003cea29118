"""Atom (RFC 4287) documents: the public archive's feed and each subscriber's own feed.

A pure stage: it takes the feed and its entries as values and returns the XML bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree import ElementTree

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ATOM_MEDIA_TYPE = "application/atom+xml"

ElementTree.register_namespace("", ATOM_NS)


@dataclass(frozen=True)
class AtomEntry:
    """One entry: `id` is a stable IRI (the same entry keeps it across fetches)."""

    id: str
    title: str
    updated: datetime
    link: str | None
    summary: str = ""
    content_html: str = ""
    authors: Sequence[str] = ()
    categories: Sequence[str] = ()
    published: datetime | None = None


@dataclass(frozen=True)
class AtomFeed:
    """The feed's own elements; `author` stands for every entry that names none."""

    id: str
    title: str
    updated: datetime
    author: str
    self_url: str
    alternate_url: str
    subtitle: str = ""
    lang: str = "en"
    entries: Sequence[AtomEntry] = field(default_factory=tuple)


def atom_date(moment: datetime) -> str:
    """An RFC 3339 date-time in UTC, as Atom requires (a naive moment is refused)."""
    if moment.tzinfo is None:
        raise ValueError("an Atom date needs a timezone")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_atom(feed: AtomFeed) -> bytes:
    """The feed as a UTF-8 Atom document."""
    root = ElementTree.Element(_tag("feed"), {XML_LANG: feed.lang})
    _text(root, "id", feed.id)
    _text(root, "title", feed.title)
    if feed.subtitle:
        _text(root, "subtitle", feed.subtitle)
    _text(root, "updated", atom_date(feed.updated))
    _author(root, feed.author)
    _link(root, feed.self_url, "self", ATOM_MEDIA_TYPE)
    _link(root, feed.alternate_url, "alternate", "text/html")
    _text(root, "generator", "digest")
    for entry in feed.entries:
        root.append(_entry(entry))
    ElementTree.indent(root)
    body: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def _entry(entry: AtomEntry) -> ElementTree.Element:
    element = ElementTree.Element(_tag("entry"))
    _text(element, "id", entry.id)
    _text(element, "title", entry.title)
    _text(element, "updated", atom_date(entry.updated))
    if entry.published is not None:
        _text(element, "published", atom_date(entry.published))
    for name in entry.authors:
        _author(element, name)
    if entry.link:
        _link(element, entry.link, "alternate", "text/html")
    for term in entry.categories:
        ElementTree.SubElement(element, _tag("category"), {"term": term})
    if entry.summary:
        _text(element, "summary", entry.summary)
    if entry.content_html:
        # type="html": the markup travels escaped, which every reader undoes once.
        _text(element, "content", entry.content_html).set("type", "html")
    return element


def _tag(name: str) -> str:
    return f"{{{ATOM_NS}}}{name}"


def _text(parent: ElementTree.Element, name: str, value: str) -> ElementTree.Element:
    child = ElementTree.SubElement(parent, _tag(name))
    child.text = _xml_safe(value)
    return child


def _author(parent: ElementTree.Element, name: str) -> None:
    _text(ElementTree.SubElement(parent, _tag("author")), "name", name)


def _link(parent: ElementTree.Element, href: str, rel: str, media_type: str) -> None:
    ElementTree.SubElement(parent, _tag("link"), {"rel": rel, "type": media_type, "href": href})


def _xml_safe(value: str) -> str:
    """`value` without the characters XML 1.0 cannot carry (a source's stray controls)."""
    return "".join(ch for ch in value if _allowed_in_xml(ord(ch)))


def _allowed_in_xml(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )
