"""arXiv by category: announcement feeds old and new, the query API's paging, bad answers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from digest.errors import SourceError
from digest.papers import FetchedPaper
from digest.sources.arxiv import ArxivByCategory
from digest.sources.arxiv_feed import parse_feed
from digest.sources.base import FetchResult, collect
from digest.sources.politeness import Gate
from tests.sources.support import mock_client, payload, polite

MONDAY = date(2026, 11, 23)
RSS_URL = "http://rss.test"
API_URL = "http://api.test"


def by_id(papers: list[FetchedPaper]) -> dict[str, FetchedPaper]:
    return {paper.arxiv_id: paper for paper in papers}


def feed_of(name: str) -> list[FetchedPaper]:
    return parse_feed(payload(name), name).papers


def test_new_feed_shape_reads_every_field_and_announce_type() -> None:
    papers = feed_of("arxiv_rss_new_shape.xml")
    entmax = papers[0]

    assert entmax.arxiv_id == "2611.10001" and entmax.version == 1
    assert entmax.title == "\u03b1-Entmax Attention for Long Documents"  # LaTeX made readable
    assert entmax.abstract == (
        "Sparse attention with \u03b1-entmax keeps long documents in view. "
        "It scales to 1M tokens & beyond."
    )
    assert entmax.authors == ["Ada Quinlan", "Bo Chen", "Chidi Okafor"]
    assert entmax.categories == ["cs.CL", "cs.LG"]
    assert entmax.url == "https://arxiv.org/abs/2611.10001"
    assert entmax.pdf_url == "https://arxiv.org/pdf/2611.10001"
    assert entmax.published_at == datetime(2026, 11, 23, 5, tzinfo=UTC)
    assert entmax.has_signals is False  # arXiv has no upvotes: no snapshot

    announced = {p.arxiv_id: (p.version, p.announced_on) for p in papers}
    assert announced == {
        "2611.10001": (1, MONDAY),  # new
        "2611.10002": (1, MONDAY),  # cross-list: new to this category
        "2611.00101": (2, None),  # replacement: not new again
        "2610.09999": (3, None),  # replace-cross
    }


def test_an_entry_without_an_id_is_skipped_with_a_logged_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="digest.sources.arxiv"):
        parsed = parse_feed(payload("arxiv_rss_new_shape.xml"), "test feed")

    assert parsed.skipped == [("An Item Without Any Identifier", "no arXiv id")]
    assert "no arXiv id" in caplog.text
    assert parsed.entries == 6 and len(parsed.papers) == 5  # the repeat is merged by the store


def test_atom_announcement_feed_reads_like_rss() -> None:
    papers = by_id(feed_of("arxiv_atom_new_shape.xml"))

    assert papers["2611.10001"].authors == ["Ada Quinlan", "Bo Chen"]
    assert papers["2611.10001"].announced_on == MONDAY
    assert (papers["2611.00101"].version, papers["2611.00101"].announced_on) == (2, None)
    assert papers["2611.00101"].abstract == "Now with proofs."


def test_old_export_feed_shape_still_parses() -> None:
    papers = by_id(feed_of("arxiv_rss_old_shape.xml"))

    tuning = papers["2311.04205"]
    assert tuning.title == "Instruction Tuning With Fewer Examples"  # "(arXiv:… [cs.CL])" gone
    assert tuning.abstract == "Careful selection of 1,000 examples rivals 50,000."
    assert tuning.authors == ["Farah Nasser", "Gustav Berg"]  # out of their HTML links
    assert (tuning.version, tuning.categories) == (1, ["cs.CL"])
    assert tuning.announced_on == date(2023, 11, 8)
    assert papers["2311.04000"].announced_on == date(2023, 11, 8)  # CROSS LISTED
    assert (papers["2310.01111"].version, papers["2310.01111"].announced_on) == (2, None)


def test_a_weekend_feed_is_empty_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    source = arxiv(lambda request: xml(payload("arxiv_rss_weekend.xml")), today=date(2026, 11, 21))

    with caplog.at_level(logging.INFO, logger="digest.sources.arxiv"):
        result = collect(source, date(2026, 11, 21))

    assert result == FetchResult(papers=[], skipped=[])
    assert "announces nothing" in caplog.text


def test_an_html_page_with_status_200_is_refused() -> None:
    html = b"<!doctype html><html><body><h1>Service unavailable</h1></body></html>"

    with pytest.raises(SourceError, match="is not an RSS or Atom feed"):
        collect(arxiv(lambda request: xml(html, "text/html")), MONDAY)


def test_a_cut_short_feed_keeps_its_complete_entries_then_fails() -> None:
    body = payload("arxiv_rss_new_shape.xml")
    cut = body[: body.index(b"Old Results, New Appendix")]
    pages: list[FetchResult] = []

    with pytest.raises(SourceError, match="malformed XML"):
        pages.extend(arxiv(lambda request: xml(cut)).pages(MONDAY))

    (page,) = pages
    assert [p.arxiv_id for p in page.papers] == ["2611.10001", "2611.10002", "2611.00101"]
    assert page.validator is None


def test_bytes_that_are_not_utf8_do_not_lose_the_feed() -> None:
    body = payload("arxiv_atom_new_shape.xml").replace(b"Bo Chen", b"Bo Ch\xe9n")

    papers = by_id(collect(arxiv(lambda request: xml(body)), MONDAY).papers)

    assert set(papers) == {"2611.10001", "2611.00101"}
    assert papers["2611.10001"].authors[0] == "Ada Quinlan"


def test_an_entity_bomb_is_not_expanded() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<rss version="2.0"><channel><title>x</title><item><title>&c;</title>'
        b"<guid>oai:arXiv.org:2611.00001v1</guid></item></channel></rss>"
    )

    pages: list[FetchResult] = []
    with pytest.raises(SourceError, match="declares a DTD or entities"):
        pages.extend(arxiv(lambda request: xml(bomb)).pages(MONDAY))

    assert all(len(paper.title) < 100 for page in pages for paper in page.papers)


def test_the_feed_names_every_category_and_is_read_once_for_today_and_yesterday() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return xml(payload("arxiv_rss_new_shape.xml"))

    source = arxiv(handler, categories=["cs.CL", "cs.LG"])
    papers = collect(source, MONDAY).papers + collect(source, date(2026, 11, 22)).papers

    assert [str(r.url) for r in seen] == ["http://rss.test/rss/cs.CL+cs.LG"]
    assert len(papers) == 5


def test_many_categories_are_split_over_several_feeds() -> None:
    seen: list[str] = []
    categories = [f"math.A{letter}" for letter in "BCDEFGHIJKLM"]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return xml(payload("arxiv_rss_weekend.xml"))

    collect(arxiv(handler, categories=categories), MONDAY)

    assert seen == [
        "/rss/" + "+".join(categories[:10]),
        "/rss/" + "+".join(categories[10:]),
    ]


def query_pages(seen: list[dict[str, list[str]]]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/query"
        params = parse_qs(urlsplit(str(request.url)).query)
        seen.append(params)
        page = "arxiv_query_page1.xml" if params["start"] == ["0"] else "arxiv_query_page2.xml"
        return xml(payload(page))

    return handler


def test_backfill_pages_through_the_query_api_by_submission_day() -> None:
    seen: list[dict[str, list[str]]] = []
    source = arxiv(query_pages(seen), categories=["cs.CL", "cs.LG"], page_size=2)

    papers = by_id(collect(source, date(2026, 11, 18)).papers)

    assert set(papers) == {"2611.00101", "2611.00150", "2611.00177"}
    assert [(p["start"], p["max_results"]) for p in seen] == [(["0"], ["2"]), (["2"], ["2"])]
    assert seen[0]["search_query"] == [
        "(cat:cs.CL OR cat:cs.LG) AND submittedDate:[202611180000 TO 202611182359]"
    ]
    routing = papers["2611.00101"]
    assert routing.title == "Routing Tokens Through Fewer Layers"
    assert routing.abstract == "We route easy tokens around the middle of the network. It works."
    assert routing.categories == ["cs.CL", "cs.LG"]  # the primary category first
    assert routing.published_at == datetime(2026, 11, 18, 17, tzinfo=UTC)
    assert routing.announced_on is None  # the query API does not say when it was announced
    assert papers["2611.00150"].title == "Caf\u00e9-Style Dialogue Data"
    assert papers["2611.00177"].version == 2


def test_a_query_the_api_refuses_is_a_clear_error() -> None:
    source = arxiv(lambda request: xml(payload("arxiv_query_error.xml")))

    with pytest.raises(SourceError, match=r"refused .*start must be non-negative"):
        collect(source, date(2026, 11, 1))


def test_every_request_waits_for_the_shared_turn() -> None:
    turns: list[str] = []

    @contextmanager
    def gate() -> Iterator[None]:
        turns.append("enter")
        yield
        turns.append("leave")

    source = arxiv(query_pages([]), page_size=2, gate=gate)
    collect(source, date(2026, 11, 18))

    assert turns == ["enter", "leave", "enter", "leave"]


def xml(body: bytes, content_type: str = "application/rss+xml") -> httpx.Response:
    return httpx.Response(200, content=body, headers={"Content-Type": content_type})


def arxiv(
    handler: Callable[[httpx.Request], httpx.Response],
    categories: list[str] | None = None,
    today: date = MONDAY,
    page_size: int = 200,
    gate: Gate | None = None,
) -> ArxivByCategory:
    return ArxivByCategory(
        polite(mock_client(handler), attempts=1),
        RSS_URL,
        API_URL,
        categories or ["cs.CL"],
        gate=gate,
        page_size=page_size,
        today=lambda: today,
    )
