"""The evaluation's two JSON Lines files: papers and (simulated) subscribers.

docs/ranking.md#evaluation describes the format. Loading checks every line and names the
file, line and field of the first problem, because these files are written by hand or by
other tools as often as by the simulator.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

CATEGORY_PREFIX = "cat:"
AUTHOR_PREFIX = "author:"
DAYS = (1, 2)

Group = Literal["follows", "ratings", "both", "neither"]


class EvalInputError(ValueError):
    """Inputs that cannot make an evaluation; the message says what to fix."""


class EvalFormatError(EvalInputError):
    """A line of an evaluation file that does not follow the format; the message says where."""


@dataclass(frozen=True)
class EvalPaper:
    id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    themes: tuple[str, ...]  # hidden labels, the main one first
    day: int | None = None  # 1: subscribers may rate it; 2: ranked
    upvotes: int | None = None  # None: the simulator draws a trend signal
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rating:
    paper: str
    up: bool


@dataclass(frozen=True)
class EvalSubscriber:
    id: str
    follows: tuple[str, ...]  # typed strings: a topic, `cat:cs.RO` or `author:Ada Lovelace`
    ratings: tuple[Rating, ...]
    themes: tuple[str, ...]  # hidden interests

    @property
    def group(self) -> Group:
        if self.follows and self.ratings:
            return "both"
        if self.follows:
            return "follows"
        return "ratings" if self.ratings else "neither"


def _lines(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise EvalFormatError(f"{path}: cannot read it ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise EvalFormatError(f"{path}: not UTF-8 text ({error.reason})") from error
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise EvalFormatError(f"{path}:{number}: not JSON ({error.msg})") from error
        if not isinstance(value, dict):
            raise EvalFormatError(f"{path}:{number}: expected a JSON object")
        yield number, value


class _Line:
    """One parsed line with typed field access that reports file, line and field."""

    def __init__(self, path: Path, number: int, value: dict[str, object]) -> None:
        self.where = f"{path}:{number}"
        self.value = value

    def fail(self, message: str) -> EvalFormatError:
        return EvalFormatError(f"{self.where}: {message}")

    def text(self, name: str, required: bool = True) -> str:
        value = self.value.get(name)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(f"`{name}` must be a non-empty string, got {value!r}")
        return value

    def strings(self, name: str, required: bool = False) -> tuple[str, ...]:
        value = self.value.get(name)
        if value is None and not required:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"`{name}` must be a list of strings, got {value!r}")
        if required and not value:
            raise self.fail(f"`{name}` must not be empty")
        return tuple(value)

    def count(self, name: str) -> int | None:
        value = self.value.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(f"`{name}` must be a whole number >= 0 or null, got {value!r}")
        return value

    def day(self) -> int | None:
        value = self.value.get("day")
        if value is None:
            return None
        if isinstance(value, bool) or value not in DAYS:
            raise self.fail(f"`day` must be 1 (rated) or 2 (ranked), got {value!r}")
        assert isinstance(value, int)
        return value

    def ratings(self) -> tuple[Rating, ...]:
        value = self.value.get("ratings")
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(f"`ratings` must be a list, got {value!r}")
        ratings = []
        for item in value:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("paper"), str)
                or item.get("vote") not in ("up", "down")
            ):
                raise self.fail(
                    f'each rating must be {{"paper": ID, "vote": "up" or "down"}}, got {item!r}'
                )
            ratings.append(Rating(item["paper"], item["vote"] == "up"))
        return tuple(ratings)


def load_papers(path: Path) -> list[EvalPaper]:
    """Papers of a JSON Lines file; unknown fields are ignored."""
    papers: list[EvalPaper] = []
    seen: set[str] = set()
    for number, value in _lines(path):
        line = _Line(path, number, value)
        paper = EvalPaper(
            id=line.text("id"),
            title=line.text("title"),
            abstract=line.text("abstract", required=False),
            authors=line.strings("authors"),
            themes=line.strings("themes", required=True),
            day=line.day(),
            upvotes=line.count("upvotes"),
            categories=line.strings("categories"),
            keywords=line.strings("keywords"),
        )
        if paper.id in seen:
            raise line.fail(f"paper id {paper.id!r} appears twice")
        seen.add(paper.id)
        papers.append(paper)
    if not papers:
        raise EvalFormatError(f"{path}: no papers in it")
    return papers


def load_subscribers(path: Path, papers: Sequence[EvalPaper]) -> list[EvalSubscriber]:
    """Subscribers of a JSON Lines file; each rating must name a day-1 paper of `papers`."""
    day_one = {p.id for p in papers if p.day == 1}
    subscribers: list[EvalSubscriber] = []
    for number, value in _lines(path):
        line = _Line(path, number, value)
        subscriber = EvalSubscriber(
            id=line.text("id"),
            follows=line.strings("follows"),
            ratings=line.ratings(),
            themes=line.strings("themes", required=True),
        )
        for rating in subscriber.ratings:
            if rating.paper not in day_one:
                raise line.fail(f"rating of {rating.paper!r}, which is no day-1 paper")
        subscribers.append(subscriber)
    if not subscribers:
        raise EvalFormatError(f"{path}: no subscribers in it")
    return subscribers


def load_typed_follows(path: Path) -> dict[str, tuple[str, ...]]:
    """A JSON object of theme -> list of phrases a reader would type to follow it."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise EvalFormatError(f"{path}: cannot read it ({error.strerror or error})") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EvalFormatError(f"{path}: not a JSON file ({error})") from error
    if not isinstance(value, dict) or not all(
        isinstance(phrases, list) and phrases and all(isinstance(p, str) and p for p in phrases)
        for phrases in value.values()
    ):
        raise EvalFormatError(
            f'{path}: expected {{"THEME": ["phrase", ...], ...}} with non-empty lists'
        )
    return {str(theme): tuple(phrases) for theme, phrases in value.items()}


def paper_record(paper: EvalPaper) -> dict[str, object]:
    record: dict[str, object] = {
        "id": paper.id,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "day": paper.day,
        "upvotes": paper.upvotes,
        "themes": list(paper.themes),
    }
    if paper.categories:
        record["categories"] = list(paper.categories)
    if paper.keywords:
        record["keywords"] = list(paper.keywords)
    return record


def subscriber_record(subscriber: EvalSubscriber) -> dict[str, object]:
    return {
        "id": subscriber.id,
        "follows": list(subscriber.follows),
        "ratings": [
            {"paper": r.paper, "vote": "up" if r.up else "down"} for r in subscriber.ratings
        ],
        "themes": list(subscriber.themes),
    }


def write_lines(path: Path, records: Iterable[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
