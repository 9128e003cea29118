from __future__ import annotations

import pytest
from jinja2 import UndefinedError

from digest.links import http_url
from digest.render.templates import (
    compact_number,
    environment,
    excerpt,
    one_line,
    shorten_authors,
    trend_line,
)
from tests.render.factories import make_entry


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], ""),
        (["Ada"], "Ada"),
        (["Ada", "Alan", "Grace"], "Ada, Alan, Grace"),
        (["Ada", "Alan", "Grace", "Edsger"], "Ada, Alan, Grace et al."),
    ],
)
def test_shorten_authors(names: list[str], expected: str) -> None:
    assert shorten_authors(names) == expected


def test_excerpt_keeps_short_text_and_flattens_whitespace() -> None:
    assert excerpt("  Short\r\n\tabstract  ") == "Short abstract"


def test_excerpt_cuts_at_a_word_boundary() -> None:
    text = "word " * 200
    cut = excerpt(text, 300)
    assert cut.endswith("word…")
    assert len(cut) <= 301


def test_excerpt_hard_cuts_one_endless_word() -> None:
    assert excerpt("x" * 10_000, 50) == "x" * 50 + "…"


def test_one_line() -> None:
    assert one_line("Evil\r\nBcc: x@y") == "Evil Bcc: x@y"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (999, "999"),
        (1000, "1k"),
        (1234, "1.2k"),
        (12_345, "12.3k"),
        (123_456, "123k"),
        (999_999, "1M"),
        (2_500_000, "2.5M"),
    ],
)
def test_compact_number(value: int, expected: str) -> None:
    assert compact_number(value) == expected


def test_trend_line_shows_only_known_figures() -> None:
    full = make_entry(1, upvotes=212, comments=14, stars=1234)
    assert trend_line(full) == "▲ 212 upvotes · 14 comments · ★ 1.2k on GitHub"
    assert trend_line(make_entry(1, upvotes=1, comments=0, stars=None)) == "▲ 1 upvote"
    assert trend_line(make_entry(1, upvotes=0, comments=0, stars=None)) == ""


@pytest.mark.parametrize(
    "url", ["https://arxiv.org/abs/2411.1", "http://example.org/x?a=1&b=2", "HTTPS://EX.ORG/"]
)
def test_http_url_accepts_web_addresses(url: str) -> None:
    assert http_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "java\nscript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example.org/x",
        "https://example.org/a b",
        "https:///no-host",
        "ftp://example.org/paper.pdf",
    ],
)
def test_http_url_rejects_everything_else(url: str | None) -> None:
    assert http_url(url) is None


def test_environment_is_cached() -> None:
    assert environment() is environment()


def test_html_templates_escape_and_text_templates_do_not() -> None:
    env = environment()
    subject = env.get_template("email/confirm/subject.txt").render(list_name="<A & B>")
    assert subject.strip() == "Confirm your subscription to <A & B>"
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


def test_missing_variables_fail_loudly() -> None:
    with pytest.raises(UndefinedError):
        environment().from_string("{{ nope }}").render()
