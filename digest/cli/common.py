"""What the commands share: the console, settings, the database, date options.

Nothing heavy is imported at module level: `digest --help` loads this module, and rich,
pydantic and SQLAlchemy are imported by the first command that needs them.
"""

from __future__ import annotations

import sys
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from digest.errors import DigestError

if TYPE_CHECKING:
    from rich.console import Console

    from digest.settings import Settings
    from digest.store.db import Database

# Wide enough for any address, path or URL: off a terminal a line is never broken, so a
# path or link printed by the demo can be clicked or copied whole.
PLAIN_WIDTH = 10_000


@cache
def console() -> Console:
    """The standard output: rich on a terminal; off one, plain lines that never wrap."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console()
    return Console(width=PLAIN_WIDTH, soft_wrap=True)


def settings(*, read_only: bool = False) -> Settings:
    """The process's settings; a read-only command writes no secret file to get them."""
    from digest.settings import get_settings, load_settings

    return load_settings(keep_secret=False) if read_only else get_settings()


def open_database(settings: Settings, *, read_only: bool = False) -> Database:
    """The configured database, checked; a read-only command never creates one."""
    from digest.store.db import Database

    if read_only:
        missing = _missing_sqlite_file(settings.database_url)
        if missing is not None:
            raise DigestError(f"no database at {missing} (`digest db upgrade` creates it)")
    database = Database(settings.database_url)
    database.check()
    return database


def _missing_sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names when it does not exist (connecting would create it)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # the engine reports it, naming the variable
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):
        return None  # a URI filename carries its own mode (e.g. mode=ro)
    path = Path(parsed.database)
    return None if path.exists() else path.resolve()


def day_option(day: str | None, edition: str | None) -> date | None:
    """The date of `--day`; `--edition`, its old name, still works with one line of warning
    on stderr (`--day` wins when both are given)."""
    if edition is not None:
        print("digest: --edition is deprecated, use --day", file=sys.stderr)
    return parse_day(day if day is not None else edition, "--day")


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DigestError(f"{option} must be a date like 2026-11-25, got {value!r}") from None
