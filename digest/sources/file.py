"""A JSON file in the Hugging Face daily-papers shape, for offline runs and imports."""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from digest.errors import SourceError
from digest.sources.base import FetchResult
from digest.sources.hf import loads, parse_daily_papers, read_items

logger = logging.getLogger("digest.sources.file")


class FileSource:
    """Every paper in the file: a list of items, or `{"note": …, "papers": [...]}`."""

    name = "file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def pages(self, day: date) -> Iterator[FetchResult]:
        """All items of the file as one page (no filtering by day); `day` fills a missing one."""
        yield parse_daily_papers(self.read_items(), default_day=day)

    def read_items(self) -> list[Any]:
        """The raw items of the file, or SourceError when it is missing or not that shape."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise SourceError(f"paper file {self.path}: no such file") from None
        except OSError as exc:
            raise SourceError(f"paper file {self.path}: cannot be read ({exc})") from None
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise SourceError(f"paper file {self.path}: cannot be read (UTF-16; save it as UTF-8)")
        try:
            content = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            logger.warning("paper file %s is not valid UTF-8; bad bytes replaced", self.path)
            content = raw.decode("utf-8-sig", errors="replace")
        try:
            payload = loads(content)
        except RecursionError:
            payload = _items_one_by_one(self.path, content)
        except json.JSONDecodeError as exc:
            raise SourceError(
                f"paper file {self.path}: not valid JSON (line {exc.lineno}: {exc.msg})"
            ) from None
        except ValueError as exc:
            raise SourceError(f"paper file {self.path}: not valid JSON ({exc})") from None
        if isinstance(payload, dict) and isinstance(payload.get("papers"), list):
            payload = payload["papers"]
        if not isinstance(payload, list):
            raise SourceError(
                f"paper file {self.path}: expected a list of papers or an object "
                'with a "papers" list'
            )
        return payload


def _items_one_by_one(path: Path, content: str) -> list[Any]:
    """A list with an item nested too deeply to decode: the others, that one `Unreadable`."""
    if not content.lstrip().startswith("["):
        raise SourceError(f"paper file {path}: nested too deeply")
    items, complete = read_items(content)
    if not complete:
        raise SourceError(f"paper file {path}: not valid JSON after item {len(items)}")
    return items
