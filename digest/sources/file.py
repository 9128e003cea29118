"""A JSON file in the Hugging Face daily-papers shape, for offline runs and imports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from digest.errors import SourceError
from digest.sources.base import FetchResult
from digest.sources.hf import parse_daily_papers


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
            content = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SourceError(f"paper file {self.path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"paper file {self.path}: cannot be read ({exc})") from None
        try:
            payload = json.loads(content)
        except json.JSONDecodeError as exc:
            raise SourceError(
                f"paper file {self.path}: not valid JSON (line {exc.lineno}: {exc.msg})"
            ) from None
        if isinstance(payload, dict) and isinstance(payload.get("papers"), list):
            payload = payload["papers"]
        if not isinstance(payload, list):
            raise SourceError(
                f"paper file {self.path}: expected a list of papers or an object "
                'with a "papers" list'
            )
        return payload
