"""The boundary check on what a request carries: every query and form value passes here.

A NUL or a lone surrogate is never meant by a person, and past this point it would reach the
database (PostgreSQL refuses NUL in text, SQLite stores it) or a log line. So such input is
refused as a whole with a 400 page, before any handler reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

from starlette.datastructures import FormData

# Re-exported: they were defined here before the import came to use them too.
from digest.text import FORM_CONTROLS as FORM_CONTROLS
from digest.text import disallowed_character as disallowed_character
from digest.text import whole_number

# Links we send are about 200 bytes; uvicorn itself refuses request heads over 16 KiB.
MAX_QUERY_BYTES = 4096


class UnsafeInput(Exception):
    """A query or form carries characters no person types, or a key twice (400)."""


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
