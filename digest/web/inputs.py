"""The boundary check on what a request carries: every query and form value passes here.

A NUL or a lone surrogate is never meant by a person, and past this point it would reach the
database (PostgreSQL refuses NUL in text, SQLite stores it) or a log line. So such input is
refused as a whole with a 400 page, before any handler reads it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from urllib.parse import parse_qsl

from starlette.datastructures import FormData

from digest.text import whole_number

# Links we send are about 200 bytes; uvicorn itself refuses request heads over 16 KiB.
MAX_QUERY_BYTES = 4096
# Textareas (topics, authors) may hold line breaks; a link never does.
FORM_CONTROLS = frozenset("\t\n\r")
# Unicode's noncharacters U+FDD0..U+FDEF and the last two code points of every plane.
NONCHARACTERS = frozenset(
    [
        *map(chr, range(0xFDD0, 0xFDF0)),
        *(chr(p + off) for p in range(0, 0x110000, 0x10000) for off in (0xFFFE, 0xFFFF)),
    ]
)


class UnsafeInput(Exception):
    """A query or form carries characters no person types, or a key twice (400)."""


def disallowed_character(text: str, allowed: frozenset[str] = frozenset()) -> str | None:
    """A description of the first character of `text` refused at the boundary, or None.

    Refused: control characters (C0, DEL and C1) other than those in `allowed`, lone
    surrogates, and Unicode noncharacters.
    """
    if text.isprintable():  # the common case, at C speed: none of the above in it
        return None
    for char in text:
        if char in allowed:
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            return "a control character"
        if category == "Cs":
            return "a broken character (a lone surrogate)"
        if char in NONCHARACTERS:
            return "a character that is not text"
    return None


def check_pairs(pairs: Iterable[tuple[str, object]], allowed: frozenset[str], what: str) -> None:
    """Raise UnsafeInput if a key repeats or a key or text value holds a refused character."""
    seen: set[str] = set()
    for key, value in pairs:
        if key in seen:
            raise UnsafeInput(f"the {what} names a field twice")
        seen.add(key)
        for text in (key, value) if isinstance(value, str) else (key,):
            problem = disallowed_character(text, allowed)
            if problem is not None:
                raise UnsafeInput(f"the {what} contains {problem}")


def parsed_query(query_string: bytes) -> list[tuple[str, str]]:
    """The query as Starlette reads it (percent-decoded keys and values, in order)."""
    return parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)


def check_query(query_string: bytes) -> None:
    """Raise UnsafeInput unless the query is short, each key is given once, and no key or
    value (after percent-decoding) holds a control or broken character."""
    if len(query_string) > MAX_QUERY_BYTES:
        raise UnsafeInput("the link is far longer than any we send")
    check_pairs(parsed_query(query_string), frozenset(), "link")


def check_form(form: FormData) -> None:
    """Raise UnsafeInput unless each field is given once and holds no refused character
    (tabs and line breaks are allowed; each field's own rules decide about them)."""
    check_pairs(form.multi_items(), FORM_CONTROLS, "form")


def query_has_token(query_string: bytes) -> bool:
    """True if the query, as the handlers read it, carries a `token` (however encoded)."""
    return any(key == "token" for key, _ in parsed_query(query_string))


def announces_more_than(content_length: str, limit: int) -> bool:
    """Whether a Content-Length value announces a body over `limit` bytes. A value that is
    not ASCII digits announces nothing (the body is capped as it arrives anyway)."""
    significant = content_length.lstrip("0") or "0"
    if not (significant.isascii() and significant.isdigit()):
        return False
    length = whole_number(significant)
    return length is None or length > limit  # None: more digits than any limit has
