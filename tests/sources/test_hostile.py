"""Hostile values inside good answers cost only their own item; hostile XML costs nothing.

Every source (Hugging Face JSON, the file source, arXiv RSS and the query API's Atom) is
fed the same classes of values: lone surrogates, NUL and other controls, bytes that are not
UTF-8, counts beyond INTEGER, NaN and Infinity, text where a number belongs, absurd dates,
over-long text, and documents that declare entities.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.errors import SourceError
from digest.papers import MAX_COUNT, FetchedPaper, paper_problem
from digest.sources.arxiv_feed import parse_feed
from digest.sources.base import FetchResult, collect
from digest.sources.file import FileSource
from digest.sources.hf import HuggingFaceDailyPapers, json_items, parse_daily_papers
from digest.sources.http import Answer
from digest.text import disallowed_in
from tests.sources.hostile import (
    GOOD_HF,
    GOOD_RSS,
    HF_CASES,
    Case,
    as_bytes,
    hf_case_page,
    hf_item,
    hf_page,
    rss_item,
    rss_page,
)
from tests.sources.support import API_URL, DAY, json_answer, mock_client, polite
from tests.sources.test_arxiv import MONDAY, arxiv, xml

PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def hf_fetch(body: bytes) -> FetchResult:
    source = HuggingFaceDailyPapers(polite(mock_client(json_answer(body)), attempts=1), API_URL)
    return collect(source, DAY)


def assert_only_the_hostile_item_differs(
    result: FetchResult, good: list[str], case: Case | None, caplog: pytest.LogCaptureFixture
) -> None:
    papers = {paper.arxiv_id: paper for paper in result.papers}
    assert set(good) <= set(papers), "a good item was lost"
    for paper in result.papers:
        assert paper_problem(paper) is None
    for identifier, reason in result.skipped:
        assert not disallowed_in(identifier + reason) and "\n" not in reason
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"
    if case is None:
        return
    if case.expected is None:
        assert case.arxiv_id not in papers
        (skip,) = result.skipped
        assert case.reason in skip[1]
        assert f"skipped daily-papers item {skip[0]}: {skip[1]}" in caplog.text  # one line
    else:
        assert result.skipped == []
        hostile = papers[case.arxiv_id]
        for name, value in case.expected.items():
            assert getattr(hostile, name) == value, name


@pytest.mark.parametrize("case", HF_CASES, ids=lambda case: case.name)
def test_a_hostile_daily_papers_item_costs_only_itself(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        result = hf_fetch(hf_case_page(case))

    assert_only_the_hostile_item_differs(result, GOOD_HF, case, caplog)


@pytest.mark.parametrize("case", HF_CASES, ids=lambda case: case.name)
def test_a_hostile_item_in_a_paper_file_costs_only_itself(
    case: Case, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "papers.json"
    path.write_bytes(hf_case_page(case))

    with caplog.at_level(logging.WARNING):
        result = collect(FileSource(path), DAY)

    assert_only_the_hostile_item_differs(result, GOOD_HF, case, caplog)


def test_clamped_counts_keep_their_order_and_fit_the_column() -> None:
    page = hf_page(
        hf_item("2611.00951", upvotes=str(2**63), githubStars="1e308", numComments="2.5"),
        hf_item("2611.00952", upvotes="true", githubStars='" 42 "', numComments="7.0"),
    )

    papers = {paper.arxiv_id: paper for paper in hf_fetch(page).papers}

    huge, odd = papers["2611.00951"], papers["2611.00952"]
    assert (huge.upvotes, huge.stars, huge.comments) == (MAX_COUNT, MAX_COUNT, 0)
    assert (odd.upvotes, odd.stars, odd.comments) == (0, 42, 7)


def test_a_raw_control_character_inside_a_json_string_costs_nothing() -> None:
    page = hf_page(hf_item("2611.00953", title='"tab\tbell\x07 and\x00nul"'))

    papers = {paper.arxiv_id: paper for paper in hf_fetch(page).papers}

    assert set(GOOD_HF) <= set(papers)
    assert papers["2611.00953"].title == "tab bell andnul"


# arXiv: announcement feeds (RSS) and the query API (Atom)

RSS_CASES = [
    Case("NUL reference", {"title": "NUL &#0; here"}, {"title": "NUL here"}),
    Case("surrogate reference", {"title": "half &#xD800;pair"}, {"title": "half pair"}),
    Case("beyond Unicode", {"title": "far &#x110000;away"}, {"title": "far away"}),
    Case("raw controls", {"title": "bell\x07 and\x1b escape"}, {"title": "bell and escape"}),
    Case("NUL byte", {"dc__creator": "Ada\x00 Quinlan"}, {"authors": ["Ada Quinlan"]}),
    Case("invalid UTF-8", {"dc__creator": "Bo Ch@FF@n"}, {"authors": ["Bo Ch\ufffdn"]}),
    Case(
        "raw surrogate bytes",
        {"title": "raw \ud800 bytes"},
        {"title": "raw \ufffd\ufffd\ufffd bytes"},
    ),
    Case("bare ampersand", {"title": "AT&T & friends"}, {"title": "AT&T & friends"}),
    Case("HTML entity", {"title": "caf&eacute; &nbsp;talk"}, {"title": "café talk"}),
    Case("unknown entity", {"title": "an &bogus; entity"}, {"title": "an &bogus; entity"}),
    Case("year 9999", {"pubDate": "Fri, 31 Dec 9999 23:59:59 -0500"}, {"published_at": None}),
    Case("year 1", {"pubDate": "0001-01-01T00:00:00+05:00"}, {"published_at": None}),
    Case("no date", {"pubDate": "the day after tomorrow"}, {"published_at": None}),
    Case("huge version", {"guid": f"oai:arXiv.org:2611.00950v{'9' * 5000}"}, {"version": None}),
    Case("over-long title", {"title": "T" * 5000}, None, "title is"),
    Case("over-long abstract", {"description": "word " * 10_000}, None, "abstract is"),
    Case("20,000 authors", {"dc__creator": ", ".join(["A. Author"] * 20_000)}, None, "authors"),
    Case("long category", {"category": "cs." + "X" * 5000}, {"categories": []}),
]


def rss_case_page(case: Case) -> bytes:
    fields = {"guid": f"oai:arXiv.org:{case.arxiv_id}v1", **case.fields}
    return rss_page(rss_item(case.arxiv_id, **fields))


@pytest.mark.parametrize("case", RSS_CASES, ids=lambda case: case.name)
def test_a_hostile_feed_entry_costs_only_itself(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        result = collect(arxiv(lambda request: xml(rss_case_page(case))), MONDAY)

    papers = {paper.arxiv_id: paper for paper in result.papers}
    assert set(GOOD_RSS) <= set(papers)
    assert not [record for record in caplog.records if record.exc_info]
    if case.expected is None:
        assert case.arxiv_id not in papers
        ((identifier, reason),) = result.skipped
        assert (
            case.reason in reason and f"skipped arXiv entry {identifier}: {reason}" in caplog.text
        )
    else:
        assert result.skipped == []
        for name, value in case.expected.items():
            assert getattr(papers[case.arxiv_id], name) == value, name


def test_a_query_page_with_a_huge_total_is_clamped_not_a_crash() -> None:
    atom = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<feed xmlns="http://www.w3.org/2005/Atom" '
        b'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        b"<opensearch:totalResults>" + b"9" * 5000 + b"</opensearch:totalResults>"
        b"<entry><id>http://arxiv.org/abs/2611.00001v1</id><title>One</title>"
        b"<published>2026-11-20T10:00:00Z</published></entry></feed>"
    )

    parsed = parse_feed(atom, "test query", announcements=False)

    assert parsed.total_results == MAX_COUNT
    assert [paper.arxiv_id for paper in parsed.papers] == ["2611.00001"]


# Hardened XML: a document that declares entities is refused whole, never expanded

BILLION_LAUGHS = (
    '<!DOCTYPE rss [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    )
    + "]>"
)
EXTERNAL = '<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
HOSTILE_DOCUMENTS = {
    "billion laughs": rss_page(rss_item("2611.10950", title="&lol9;"), prolog=BILLION_LAUGHS),
    "external entity": rss_page(rss_item("2611.10950", title="&secret;"), prolog=EXTERNAL),
    "comment before the DOCTYPE": rss_page(
        rss_item("2611.10950", title="&lol9;"), prolog="<!-- hello -->" + BILLION_LAUGHS
    ),
    "external DTD": rss_page(prolog='<!DOCTYPE rss SYSTEM "http://127.0.0.1:9/evil.dtd">'),
    "parameter entity": rss_page(
        prolog='<!DOCTYPE rss [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
    ),
    "lower-case doctype": rss_page(prolog='<!doctype rss [<!ENTITY a "aaaa">]>'),
    "cut short inside the DTD": rss_page(prolog=BILLION_LAUGHS)[:300],
    "entity declared after the root": as_bytes(
        '<rss version="2.0"><channel><!ENTITY a "aaaa"><item><title>&a;</title>'
        "<guid>oai:arXiv.org:2611.10950v1</guid></item></channel></rss>"
    ),
}


@pytest.mark.parametrize("document", HOSTILE_DOCUMENTS.values(), ids=HOSTILE_DOCUMENTS.keys())
def test_a_document_declaring_entities_is_refused_with_one_clear_line(
    document: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    pages: list[FetchResult] = []
    with caplog.at_level(logging.WARNING), pytest.raises(SourceError) as refused:
        pages.extend(arxiv(lambda request: xml(document)).pages(MONDAY))

    message = str(refused.value)
    assert "from http://rss.test/rss/cs.CL" in message
    assert "declares a DTD or entities" in message or "malformed XML" in message
    assert "\n" not in message and len(message) < 300
    assert "root:" not in message and "lollol" not in message
    assert all("lollol" not in p.title and "root:" not in p.title for r in pages for p in r.papers)
    assert not [record for record in caplog.records if record.exc_info]


def test_the_query_api_refuses_a_bomb_too() -> None:
    bomb = as_bytes(
        "<?xml version='1.0'?><!-- a comment first -->"
        + BILLION_LAUGHS.replace("rss", "feed")
        + '<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&lol9;</title>'
        "<id>http://arxiv.org/abs/2611.00001v1</id></entry></feed>"
    )

    with pytest.raises(SourceError, match="declares a DTD or entities"):
        parse_feed(bomb, "from the query API", announcements=False)


def test_an_html_error_page_is_still_named_as_such() -> None:
    page = b"<!DOCTYPE html><html><body>Down for maintenance</body></html>"

    with pytest.raises(SourceError, match="is not an RSS or Atom feed"):
        parse_feed(page, "from the feed")


# Property-based: hostile values anywhere in an otherwise good page

HF_FIELDS = [
    "id", "title", "summary", "authors", "upvotes", "numComments", "githubStars",
    "githubRepo", "projectPage", "ai_summary", "ai_keywords", "publishedAt",
    "submittedOnDailyAt",
]  # fmt: skip
any_text = st.text(st.characters(exclude_categories=()), max_size=60)
numbers = st.one_of(
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 1e308, -1e308]),
)
scalars = st.one_of(any_text, numbers, st.booleans(), st.none())
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


@PROPERTY
@given(
    field=st.sampled_from(HF_FIELDS),
    value=json_values,
    in_item=st.booleans(),
    where=st.integers(0, 3),
)
def test_property_a_hostile_json_value_loses_nothing_but_its_item(
    field: str, value: Any, in_item: bool, where: int, caplog: pytest.LogCaptureFixture
) -> None:
    items: list[dict[str, Any]] = [json.loads(hf_item(arxiv_id)) for arxiv_id in GOOD_HF]
    hostile = json.loads(hf_item("2611.00950"))
    (hostile if in_item else hostile["paper"])[field] = value
    items.insert(where, hostile)
    answer = Answer("http://hf.test/api/daily_papers", 200, json.dumps(items).encode())

    with caplog.at_level(logging.WARNING):
        found, problem = json_items(answer)
        result = parse_daily_papers(found, default_day=DAY)

    assert problem is None
    assert_only_the_hostile_item_differs(result, GOOD_HF, None, caplog)
    assert len(result.papers) + len(result.skipped) == 4


xml_text = any_text.map(
    lambda text: text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
)
references = st.integers(0, 0x110010).map(lambda code: f"&#{code};") | st.integers(0, 0x110010).map(
    lambda code: f"&#x{code:X};"
)
hostile_xml = st.lists(
    (xml_text | references).map(as_bytes)
    | st.binary(max_size=40).map(
        lambda raw: raw.translate(None, b"<>&")  # raw bytes, any, but no markup
    ),
    min_size=1,
    max_size=4,
).map(b"".join)
RSS_FIELDS = ["title", "description", "dc__creator", "pubDate", "guid", "category", "link"]


@PROPERTY
@given(field=st.sampled_from(RSS_FIELDS), value=hostile_xml)
def test_property_a_hostile_feed_value_loses_nothing_but_its_entry(
    field: str, value: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = rss_item("2611.10950", **{field: "@HOSTILE@"})
    document = rss_page(hostile).replace(b"@HOSTILE@", value)

    with caplog.at_level(logging.WARNING):
        parsed = parse_feed(document, "from a property test")

    assert parsed.problem is None
    result = FetchResult(parsed.papers, parsed.skipped)
    assert_only_the_hostile_item_differs(result, GOOD_RSS, None, caplog)
    assert parsed.entries == 4


def test_paper_checks_hold_for_a_paper_built_around_them() -> None:
    paper = FetchedPaper(arxiv_id="2611.00001", title="Fine")
    object.__setattr__(paper, "upvotes", 2**63)
    object.__setattr__(paper, "title", "NUL\x00")

    assert paper_problem(paper) == "title holds a control character or a lone surrogate"


def test_http_validators_too_long_for_their_column_are_not_kept() -> None:
    answer = Answer(
        "http://hf.test/x", 200, b"[]", httpx.Headers({"ETag": "x" * 600, "Last-Modified": "y"})
    )

    validator = answer.validator(0)

    assert validator is not None and validator.etag is None and validator.last_modified == "y"
