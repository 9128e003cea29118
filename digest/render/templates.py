"""The Jinja2 environment for email templates and the small text filters they use."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from digest.links import http_url
from digest.papers import EditionEntry

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
ELLIPSIS = "…"
SEPARATOR = " · "  # between the parts of a line on the web and in feeds; emails use ", "
_COMPACT_UNITS = ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k"))


@lru_cache(maxsize=4)
def environment(overrides: Path | None = None) -> Environment:
    """The process-wide environment: autoescaped HTML, strict about missing variables.

    Templates in `overrides` (DIGEST_TEMPLATE_DIR, same layout as templates/) take
    precedence over the built-in ones, so an operator can restyle or add an email.
    """
    loader: BaseLoader = FileSystemLoader(TEMPLATES_DIR)
    if overrides is not None:
        loader = ChoiceLoader([FileSystemLoader(overrides), loader])
    env = Environment(
        loader=loader,
        autoescape=_autoescape_for,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        one_line=one_line,
        excerpt=excerpt,
        shorten_authors=shorten_authors,
        compact=compact_number,
        trend=trend_line,
        topics=topics_line,
        keywords=keywords_line,
        byline=byline,
        http_url=http_url,
    )
    return env


def _autoescape_for(name: str | None) -> bool:
    # Only plain-text templates go unescaped; HTML, string templates and anything new stay safe.
    return name is None or not name.endswith(".txt")


def one_line(text: str) -> str:
    """Collapse every run of whitespace (CR/LF included) into one space."""
    return " ".join(text.split())


def excerpt(text: str, limit: int = 300) -> str:
    """At most about `limit` characters on one line, cut at a word boundary with an ellipsis."""
    flat = one_line(text)
    if len(flat) <= limit:
        return flat
    head = flat[: limit + 1]
    cut = head.rsplit(" ", 1)[0] if " " in head else flat[:limit]
    return cut.rstrip(" ,;:.-\u2013\u2014") + ELLIPSIS


def shorten_authors(names: Sequence[str], limit: int = 3) -> str:
    """'A, B, C' for up to `limit` names, 'A, B, C et al.' beyond."""
    shown = [excerpt(name, 80) for name in names[:limit] if name.strip()]
    suffix = " et al." if len(names) > limit else ""
    return ", ".join(shown) + suffix


def byline(entry: EditionEntry, sep: str = SEPARATOR) -> str:
    """'A, B, C et al. · Example Lab': the authors and the organisation the source names."""
    organisation = excerpt(entry.organisation or "", 80)
    return sep.join(part for part in (shorten_authors(entry.authors), organisation) if part)


def keywords_line(keywords: Sequence[str], limit: int = 6, sep: str = SEPARATOR) -> str:
    """'token routing · efficiency' for the first `limit` keywords, case-insensitively distinct."""
    seen: set[str] = set()
    shown: list[str] = []
    for keyword in keywords:
        name = excerpt(keyword, 40)
        if name and name.lower() not in seen:
            seen.add(name.lower())
            shown.append(name)
    return sep.join(shown[:limit])


def topics_line(categories: Sequence[str], limit: int = 4, sep: str = SEPARATOR) -> str:
    """'cs.LG · cs.CL' for the first `limit` categories."""
    return sep.join(excerpt(name, 40) for name in categories[:limit] if name.strip())


def compact_number(value: int) -> str:
    """Short human figures: 999 -> '999', 1234 -> '1.2k', 56_789 -> '56.8k', 2_500_000 -> '2.5M'."""
    for divisor, unit in _COMPACT_UNITS:
        # 999_999 must read '1M', not '1000k'.
        if abs(value) >= divisor * (0.9995 if divisor > 1_000 else 1):
            scaled = value / divisor
            text = f"{scaled:.1f}" if abs(scaled) < 100 else f"{scaled:.0f}"
            return text.removesuffix(".0") + unit
    return str(value)


def trend_line(entry: EditionEntry, sep: str = SEPARATOR) -> str:
    """'▲ 212 upvotes · 14 comments · ★ 1.2k on GitHub', with only the figures we know."""
    parts: list[str] = []
    if entry.upvotes > 0:
        parts.append(f"▲ {_count(entry.upvotes, 'upvote')}")
    if entry.comments > 0:
        parts.append(_count(entry.comments, "comment"))
    if entry.stars is not None:
        parts.append(f"★ {compact_number(entry.stars)} on GitHub")
    return sep.join(parts)


def _count(value: int, noun: str) -> str:
    return f"{compact_number(value)} {noun}{'' if value == 1 else 's'}"
