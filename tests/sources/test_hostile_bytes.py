"""Whatever bytes a source answers, the result is papers or a SourceError with a one-line
reason: never another exception (a traceback and exit 1 in `digest fetch`)."""

from __future__ import annotations

import codecs
import functools
import gzip
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digest.errors import SourceError
from digest.sources.arxiv import ArxivByCategory
from digest.sources.arxiv_feed import parse_feed
from digest.sources.base import FetchResult, Source
from digest.sources.file import FileSource
from digest.sources.hf import HuggingFaceDailyPapers
from tests.sources.hostile import GOOD_RSS, rss_page
from tests.sources.support import API_URL, DAY, mock_client, polite

# The payload of the issue: a good feed whose declaration names UTF-7 past 200 characters.
UTF7_PAST_200 = rss_page().replace(
    b"<?xml version='1.0' encoding='UTF-8'?>",
    b"<?xml version='1.0'" + b" " * 220 + b"encoding='utf-7'?>",
)

ENCODINGS = [
    "utf-7",
    "UTF-7",
    "utf-16",
    "utf-16-le",
    "utf-32",
    "utf-32-be",
    "cp500",
    "ebcdic-cp-us",
    "punycode",
    "idna",
    "undefined",
    "rot13",
    "base64",
    "unicode_escape",
    "shift_jis",
    "iso-2022-jp",
    "no-such-encoding",
    "x" * 40,
    "",
]
BOMS = [
    b"",
    codecs.BOM_UTF8,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
    codecs.BOM_UTF32_LE,
    codecs.BOM_UTF32_BE,
    b"\x2b\x2f\x76\x38",  # UTF-7's
]
ROOTS = [
    rss_page(),
    b"<feed xmlns='http://www.w3.org/2005/Atom'><title>t</title><entry><id>"
    b"http://arxiv.org/abs/2611.10901v1</id><title>A</title></entry></feed>",
    b'[{"paper": {"id": "2611.00901", "title": "A"}}]',
    b"<rss><channel><item><title>x",  # cut short
    b"[" + b'{"paper": [' * 3000,  # nested deeper than any decoder recurses
    b"<rss><channel>" + b"<item><title>" * 20_000,
    b"<feed>" + b"<entry><title>A</title></entry>" * 2000 + b"</feed>",
]


@st.composite
def xml_documents(draw: st.DrawFn) -> bytes:
    """An answer with an XML declaration naming an odd encoding somewhere, a BOM that may
    contradict it, maybe cut short or carrying a huge attribute."""
    encoding = draw(st.sampled_from(ENCODINGS))
    padding = b" " * draw(st.sampled_from([0, 1, 199, 200, 201, 250, 5000]))
    declaration = b"<?xml version='1.0'" + padding + b" encoding='" + encoding.encode() + b"'?>"
    body = draw(st.sampled_from(ROOTS))
    if body.startswith(b"<?xml"):
        body = body.split(b"?>", 1)[1]
    where = draw(st.sampled_from(["start", "after whitespace", "after a comment", "twice"]))
    document = {
        "start": declaration + body,
        "after whitespace": b"\n  " + declaration + body,
        "after a comment": b"<!-- x -->" + declaration + body,
        "twice": declaration + declaration + body,
    }[where]
    if draw(st.booleans()):
        document = document.replace(b"<title>", b"<title a='" + b"A" * 100_000 + b"'>", 1)
    if draw(st.booleans()):
        document = document.decode("latin-1").encode(draw(st.sampled_from(["utf-16", "cp500"])))
    document = draw(st.sampled_from(BOMS)) + document
    if draw(st.booleans()):
        document = document[: draw(st.integers(0, len(document)))]
    return document


HOSTILE_BYTES = st.one_of(
    st.binary(max_size=2048),
    xml_documents(),
    st.sampled_from(ROOTS)
    .flatmap(
        lambda root: st.tuples(st.just(root), st.binary(max_size=64), st.integers(0, len(root)))
    )
    .map(lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]),
)
# Headers a hostile server may send with the body.
HEADERS = st.sampled_from(
    [
        {},
        {"Content-Type": "application/rss+xml; charset=utf-7"},
        {"Content-Type": "text/xml; charset=no-such-charset"},
        {"Content-Length": "\u00b2"},  # "²".isdigit() is true; int() refuses it
        {"Content-Encoding": "gzip"},  # with a body that is no gzip
        {"Content-Encoding": "deflate"},
        {"Content-Encoding": "br, deflate, zstd, x-unknown"},
        {"ETag": '"' + "e" * 10_000 + '"', "Last-Modified": "\x01"},
    ]
)


def answering(body: bytes, headers: dict[str, str]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        # As raw bytes (a server sends latin-1), and the body as a stream, so that httpx
        # passes the headers on as they are (no Content-Length of its own).
        raw = [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]
        return httpx.Response(200, headers=raw, stream=httpx.ByteStream(body))

    return mock_client(handler)


def sources(client: httpx.Client) -> list[tuple[Source, date]]:
    http = polite(client, attempts=1)
    arxiv = ArxivByCategory(
        http, "http://rss.test", "http://api.test", ["cs.CL"], today=lambda: DAY, page_size=5
    )
    arxiv_api = ArxivByCategory(
        http, "http://rss.test", "http://api.test", ["cs.CL"], today=lambda: DAY, page_size=5
    )
    hf = HuggingFaceDailyPapers(http, API_URL, page_size=5)
    return [(arxiv, DAY), (arxiv_api, DAY - timedelta(days=10)), (hf, DAY)]


def every_page(source: Source, day: date) -> list[FetchResult]:
    """Every page, or SourceError; what the pages held so far is what a fetch keeps."""
    pages = []
    for page in source.pages(day):
        pages.append(page)
        if len(pages) > 3:  # a mock that answers the same page forever
            break
    return pages


def assert_papers_or_source_error(read: Callable[[], object]) -> None:
    try:
        read()
    except SourceError as exc:
        reason = str(exc)
        assert reason and "\n" not in reason and "\r" not in reason, repr(reason)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=HOSTILE_BYTES, headers=HEADERS)
@example(body=UTF7_PAST_200, headers={})
def test_any_answer_gives_papers_or_a_source_error(body: bytes, headers: dict[str, str]) -> None:
    for source, day in sources(answering(body, headers)):
        assert_papers_or_source_error(functools.partial(every_page, source, day))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=HOSTILE_BYTES, announcements=st.booleans())
@example(body=UTF7_PAST_200, announcements=True)
def test_any_document_gives_a_feed_or_a_source_error(body: bytes, announcements: bool) -> None:
    assert_papers_or_source_error(
        lambda: parse_feed(body, "from a test", default_day=DAY, announcements=announcements)
    )


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(body=HOSTILE_BYTES)
def test_any_paper_file_gives_papers_or_a_source_error(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "papers.json"
    path.write_bytes(body)
    assert_papers_or_source_error(lambda: every_page(FileSource(path), DAY))


def test_a_declaration_naming_utf7_past_200_characters_is_read_as_the_feed_it_is() -> None:
    parsed = parse_feed(UTF7_PAST_200, "from a test", default_day=DAY)

    assert [paper.arxiv_id for paper in parsed.papers] == GOOD_RSS


@pytest.mark.parametrize("encoding", ["utf-7", "utf-16", "cp500", "no-such-encoding"])
@pytest.mark.parametrize("offset", [0, 199, 201, 5000])
def test_a_declared_encoding_anywhere_in_the_declaration_is_no_crash(
    encoding: str, offset: int
) -> None:
    document = rss_page().replace(
        b"<?xml version='1.0' encoding='UTF-8'?>",
        b"<?xml version='1.0'" + b" " * offset + f" encoding='{encoding}'?>".encode(),
    )

    assert_papers_or_source_error(lambda: parse_feed(document, "from a test", default_day=DAY))


def test_a_body_that_is_not_the_gzip_it_claims_is_a_source_error() -> None:
    # httpx raises DecodingError, which is no TransportError.
    client = answering(b"junk" + gzip.compress(rss_page()), {"Content-Encoding": "gzip"})
    (source, day), *_ = sources(client)

    with pytest.raises(SourceError, match="arXiv"):
        every_page(source, day)


@pytest.mark.parametrize(
    ("status", "header"),
    [(200, ("Content-Length", "\u00b2")), (503, ("Retry-After", "\u00b2"))],
)
def test_a_header_of_non_ascii_digits_is_no_crash(status: int, header: tuple[str, str]) -> None:
    # "²".isdigit() is true; int("²") and float("²") raise ValueError.
    name, value = header

    def handler(request: httpx.Request) -> httpx.Response:
        raw = [(name.encode(), value.encode("latin-1"))]
        return httpx.Response(status, headers=raw, stream=httpx.ByteStream(rss_page()))

    (source, day), *_ = sources(mock_client(handler))

    if status == 200:
        assert [p.arxiv_id for page in every_page(source, day) for p in page.papers] == GOOD_RSS
    else:
        with pytest.raises(SourceError, match="HTTP 503"):
            every_page(source, day)
