"""Answers with hostile values inside otherwise good pages, for the source, store and CLI tests.

Values are put in as raw JSON or XML text, so a test can send what `json.dumps` never
writes: a 5,000-digit number, `NaN`, a lone surrogate escape, bytes that are not UTF-8.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from digest.papers import MAX_COUNT

GOOD_HF = ["2611.00901", "2611.00902", "2611.00903"]
GOOD_RSS = ["2611.10901", "2611.10902", "2611.10903"]
INVALID_UTF8 = "@FF@"  # becomes the byte 0xFF in the answer


def hf_item(arxiv_id: str, **raw: str) -> str:
    """One daily-papers item as JSON text; `raw` replaces paper fields with JSON text as is."""
    fields = {
        "id": json.dumps(arxiv_id),
        "title": json.dumps(f"Good paper {arxiv_id}"),
        "summary": json.dumps("A sound abstract."),
        "authors": '[{"name": "Ada Quinlan"}, {"name": "Bo Chen"}]',
        "publishedAt": '"2026-11-19T00:00:00.000Z"',
        "submittedOnDailyAt": '"2026-11-20T00:00:00.000Z"',
        "upvotes": "3",
        "numComments": "1",
        "githubStars": "5",
        "githubRepo": '"https://github.com/example-org/code"',
        "ai_keywords": '["routing"]',
    }
    fields.update(raw)
    body = ", ".join(f"{json.dumps(name)}: {value}" for name, value in fields.items())
    return '{"paper": {' + body + "}}"


def hf_page(*hostile: str) -> bytes:
    """The good items with the `hostile` items between the first and the second."""
    items = [hf_item(GOOD_HF[0]), *hostile, *(hf_item(i) for i in GOOD_HF[1:])]
    return as_bytes("[" + ",\n".join(items) + "]")


def rss_item(arxiv_id: str, title: str | None = None, **raw: str) -> str:
    """One item of an announcement feed; `raw` replaces elements' text (XML text as is)."""
    fields = {
        "title": title if title is not None else f"Good paper {arxiv_id}",
        "link": f"https://arxiv.org/abs/{arxiv_id}",
        "description": f"arXiv:{arxiv_id}v1 Announce Type: new Abstract: A sound abstract.",
        "guid": f"oai:arXiv.org:{arxiv_id}v1",
        "category": "cs.CL",
        "pubDate": "Mon, 23 Nov 2026 00:00:00 -0500",
        "arxiv:announce_type": "new",
        "dc:creator": "Ada Quinlan, Bo Chen",
    }
    fields.update({name.replace("__", ":"): value for name, value in raw.items()})
    body = "".join(f"<{name}>{value}</{name.split()[0]}>" for name, value in fields.items())
    return f"<item>{body}</item>"


def rss_page(*hostile: str, prolog: str = "") -> bytes:
    """An RSS 2.0 announcement feed: the good items with `hostile` ones among them."""
    items = [rss_item(GOOD_RSS[0]), *hostile, *(rss_item(i) for i in GOOD_RSS[1:])]
    return as_bytes(
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        + prolog
        + '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0"><channel>'
        "<title>cs.CL updates on arXiv.org</title>"
        "<pubDate>Mon, 23 Nov 2026 00:00:00 -0500</pubDate>" + "\n".join(items) + "</channel></rss>"
    )


def as_bytes(text: str) -> bytes:
    # surrogatepass: a lone surrogate written raw becomes the (invalid) bytes a server sends.
    return text.encode("utf-8", "surrogatepass").replace(INVALID_UTF8.encode(), b"\xff")


@dataclass(frozen=True)
class Case:
    """One hostile value: where it goes, and what must come out (a field's value, or a skip)."""

    name: str
    fields: dict[str, str]
    expected: dict[str, object] | None = None  # None: the item is skipped
    reason: str = ""  # part of the skip reason

    @property
    def arxiv_id(self) -> str:
        return "2611.00950"


LONG_DIGITS = "1" * 5000
HF_CASES = [
    Case("lone surrogate", {"title": '"Lone \\ud800 surrogate"'}, {"title": "Lone surrogate"}),
    Case("low surrogate", {"authors": '[{"name": "Bo \\udc00Chen"}]'}, {"authors": ["Bo Chen"]}),
    Case("NUL", {"summary": '"nul \\u0000 here"'}, {"abstract": "nul here"}),
    Case(
        "C0 and C1 controls",
        {"title": '"ctl\\u0001\\u001b\\u007f\\u0085 title"'},
        {"title": "ctl title"},
    ),
    Case(
        "invalid UTF-8", {"title": f'"bytes {INVALID_UTF8} here"'}, {"title": "bytes \ufffd here"}
    ),
    Case(
        "raw surrogate bytes",
        {"title": '"raw \ud800 bytes"'},
        {"title": "raw \ufffd\ufffd\ufffd bytes"},
    ),
    Case("2**31 upvotes", {"upvotes": str(2**31)}, {"upvotes": MAX_COUNT}),
    Case("2**63 upvotes", {"upvotes": str(2**63)}, {"upvotes": MAX_COUNT}),
    Case("5,000 digits", {"upvotes": LONG_DIGITS}, {"upvotes": MAX_COUNT}),
    Case("5,000 digit text", {"upvotes": f'"{LONG_DIGITS}"'}, {"upvotes": MAX_COUNT}),
    Case("1e308 comments", {"numComments": "1e308"}, {"comments": MAX_COUNT}),
    Case("Infinity stars", {"githubStars": "Infinity"}, {"stars": MAX_COUNT}),
    Case("negative upvotes", {"upvotes": "-1"}, {"upvotes": 0}),
    Case("negative stars", {"githubStars": "-5"}, {"stars": None}),
    Case("-2**63 stars", {"githubStars": str(-(2**63))}, {"stars": None}),
    Case("NaN upvotes", {"upvotes": "NaN"}, {"upvotes": 0}),
    Case("-Infinity comments", {"numComments": "-Infinity"}, {"comments": 0}),
    Case("text for a number", {"upvotes": '"12abc"'}, {"upvotes": 0}),
    Case("superscript digits", {"githubStars": '"\\u00b2"'}, {"stars": None}),
    Case("a list for a number", {"upvotes": "[1, 2]"}, {"upvotes": 0}),
    Case("year 9999", {"publishedAt": '"9999-12-31T23:59:59-05:00"'}, {"published_at": None}),
    Case("year 1", {"publishedAt": '"0001-01-01T00:00:00+05:00"'}, {"published_at": None}),
    Case("year 1200", {"publishedAt": '"1200-06-01T00:00:00Z"'}, {"published_at": None}),
    Case("no such day", {"publishedAt": '"2026-02-30T00:00:00Z"'}, {"published_at": None}),
    Case("absurd listing day", {"submittedOnDailyAt": '"9999-12-31T23:00:00Z"'}, {}),
    Case("over-long URL", {"githubRepo": f'"https://github.com/{"a" * 600}"'}, {"code_url": None}),
    Case("over-long title", {"title": f'"{"T" * 5000}"'}, None, "title is"),
    Case("over-long abstract", {"summary": f'"{"word " * 10_000}"'}, None, "abstract is"),
    Case("over-long AI summary", {"ai_summary": f'"{"x" * 30_000}"'}, None, "summary is"),
    Case("20,000 authors", {"authors": json.dumps(["A. Author"] * 20_000)}, None, "authors"),
    Case("an endless name", {"authors": json.dumps(["N" * 1000])}, None, "author name is"),
    Case(
        "1,000 keywords",
        {"ai_keywords": json.dumps([f"k{i}" for i in range(1000)])},
        None,
        "keywords",
    ),
    Case("huge version", {"id": f'"2611.00950v{LONG_DIGITS}"'}, None, "not an arXiv id"),
    Case("NUL id", {"id": '"\\u0000"'}, None, "no arXiv id"),
    Case("long archive id", {"id": f'"{"a" * 100}/1234567"'}, None, "not an arXiv id"),
    Case("nested 5,000 deep", {"authors": "[" * 5000 + "]" * 5000}, None, "nested too deeply"),
]


def hf_case_page(case: Case) -> bytes:
    return hf_page(hf_item(case.arxiv_id, **case.fields))


def all_hf_cases_page() -> bytes:
    """One page with every hostile item of HF_CASES, each under its own id, among good ones."""
    items = [hf_item(f"2611.{9100 + n:05d}", **case.fields) for n, case in enumerate(HF_CASES)]
    return hf_page(*items)
