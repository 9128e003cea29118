"""The Atom builder: a well-formed RFC 4287 document from plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from xml.etree import ElementTree

import pytest

from digest.render.atom import AtomEntry, AtomFeed, atom_date, build_atom

ATOM = "{http://www.w3.org/2005/Atom}"
MOMENT = datetime(2026, 11, 25, 7, 30, 15, 123456, tzinfo=UTC)


def _feed(*entries: AtomEntry) -> AtomFeed:
    return AtomFeed(
        id="https://digest.example.org/archive",
        title="Trending Papers",
        updated=MOMENT,
        author="Trending Papers",
        self_url="https://digest.example.org/archive.atom",
        alternate_url="https://digest.example.org/archive",
        entries=entries,
    )


def test_dates_are_rfc3339_in_utc_and_naive_ones_refused() -> None:
    paris = MOMENT.astimezone(timezone(timedelta(hours=1)))
    assert atom_date(paris) == "2026-11-25T07:30:15Z"
    with pytest.raises(ValueError):
        atom_date(datetime(2026, 11, 25, 7, 30))


def test_hostile_text_stays_text_and_stray_controls_are_dropped() -> None:
    entry = AtomEntry(
        id="https://arxiv.org/abs/2611.00001",
        title="<script>alert(1)</script> & co\x00\x1b",
        updated=MOMENT,
        link="https://arxiv.org/abs/2611.00001",
        content_html="<p>An <b>abstract</b></p>",
    )

    root = ElementTree.fromstring(build_atom(_feed(entry)))

    [parsed] = root.findall(f"{ATOM}entry")
    assert parsed.findtext(f"{ATOM}title") == "<script>alert(1)</script> & co"
    content = parsed.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    assert content.text == "<p>An <b>abstract</b></p>"  # escaped in the XML, one level
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
