"""What a subscriber can choose, parsed and checked in one place for the web, the CLI and
the store: topics, arXiv categories, authors, frequency, weekday, timezone, hour, size,
and the words, phrases and authors they mute."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.errors import DigestError
from digest.text import whole_number

MAX_TOPICS = 20
MAX_TOPIC_LENGTH = 100
MAX_EDITION_SIZE = 50
MAX_MUTES = 50  # phrases, and as many authors
ARXIV_CATEGORY = re.compile(r"^[a-z][a-z\-]{1,15}(\.[A-Za-z\-]{1,10})?$")
T = TypeVar("T")


class Frequency(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class InvalidPreference(DigestError):
    """A topic list, timezone or send hour that cannot be accepted."""


@dataclass(frozen=True)
class Preferences:
    """What a subscriber follows and when they get it, as the preferences page edits it."""

    topics: list[str]
    categories: list[str]
    authors: list[str]
    frequency: Frequency
    send_weekday: int
    timezone: str
    send_hour: int
    edition_size: int
    muted: list[str] = field(default_factory=list)
    muted_authors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values, as the data export shows them."""
        values = asdict(self)
        values["frequency"] = self.frequency.value
        return values


def parse_topics(raw: str | Sequence[str] | None) -> list[str]:
    """Split a comma/newline separated topic list into clean, unique entries."""
    return _unique_entries(raw, MAX_TOPICS, "a topic", "follow at most {n} topics")


def _unique_entries(
    raw: str | Sequence[str] | None, most: int, one: str, too_many: str
) -> list[str]:
    if raw is None:
        return []
    pieces = raw.replace("\n", ",").split(",") if isinstance(raw, str) else list(raw)
    entries: list[str] = []
    for piece in pieces:
        entry = " ".join(piece.split())
        if not entry:
            continue
        if len(entry) > MAX_TOPIC_LENGTH:
            raise InvalidPreference(f"{one} can be at most {MAX_TOPIC_LENGTH} characters")
        if entry.lower() not in (t.lower() for t in entries):
            entries.append(entry)
    if len(entries) > most:
        raise InvalidPreference(too_many.format(n=most))
    return entries


def check_timezone(name: str) -> str:
    """Return the IANA timezone name if it is known, else raise InvalidPreference."""
    name = name.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidPreference(f"unknown timezone {name!r}") from None
    return name


def check_send_hour(hour: int) -> int:
    if not 0 <= hour <= 23:
        raise InvalidPreference("the send hour must be between 0 and 23")
    return hour


def parse_categories(raw: str | Sequence[str] | None) -> list[str]:
    """arXiv categories such as 'cs.CL' or 'hep-th', comma or newline separated."""
    categories = parse_topics(raw)
    for category in categories:
        if not ARXIV_CATEGORY.match(category):
            raise InvalidPreference(f"{category[:40]!r} is not an arXiv category such as cs.CL")
    return categories


def parse_authors(raw: str | Sequence[str] | None) -> list[str]:
    """Author names to follow, with the same limits as topics."""
    try:
        return parse_topics(raw)
    except InvalidPreference as exc:
        raise InvalidPreference(str(exc).replace("topic", "author")) from None


def parse_muted(raw: str | Sequence[str] | None) -> list[str]:
    """Words and phrases a subscriber never wants to see, comma or newline separated."""
    return _unique_entries(raw, MAX_MUTES, "a muted word or phrase", "mute at most {n} phrases")


def parse_muted_authors(raw: str | Sequence[str] | None) -> list[str]:
    """Authors whose papers a subscriber never wants to see."""
    return _unique_entries(raw, MAX_MUTES, "a muted author", "mute at most {n} authors")


def check_edition_size(size: int) -> int:
    if not 1 <= size <= MAX_EDITION_SIZE:
        raise InvalidPreference(f"the number of papers must be between 1 and {MAX_EDITION_SIZE}")
    return size


def check_weekday(day: int) -> int:
    if not 0 <= day <= 6:
        raise InvalidPreference("the weekday must be between Monday (0) and Sunday (6)")
    return day


def parse_preferences(fields: Mapping[str, str]) -> tuple[Preferences | None, dict[str, str]]:
    """The preferences typed in `fields` (by name), or the error of each field that cannot be
    accepted."""
    errors: dict[str, str] = {}

    def attempt(name: str, parse: Callable[[str], T], fallback: T) -> T:
        try:
            return parse(fields.get(name, ""))
        except InvalidPreference as exc:
            errors[name] = str(exc)
            return fallback

    prefs = Preferences(
        topics=attempt("topics", parse_topics, []),
        categories=attempt("categories", parse_categories, []),
        authors=attempt("authors", parse_authors, []),
        frequency=attempt("frequency", parse_frequency, Frequency.DAILY),
        send_weekday=attempt("send_weekday", lambda raw: check_weekday(number(raw, "weekday")), 0),
        timezone=attempt("timezone", check_timezone, "UTC"),
        send_hour=attempt("send_hour", lambda raw: check_send_hour(number(raw, "send hour")), 0),
        edition_size=attempt(
            "edition_size", lambda raw: check_edition_size(number(raw, "number of papers")), 1
        ),
        muted=attempt("muted", parse_muted, []),
        muted_authors=attempt("muted_authors", parse_muted_authors, []),
    )
    return (None, errors) if errors else (prefs, {})


def parse_frequency(raw: str) -> Frequency:
    try:
        return Frequency(raw)
    except ValueError:
        raise InvalidPreference("choose daily or weekly") from None


def number(raw: str, what: str) -> int:
    value = whole_number(raw.strip())
    if value is None:
        raise InvalidPreference(f"the {what} must be a whole number")
    return value
