"""The `digest` command line: operators' tools and the demo.

`digest --help` imports only this package and Typer; each command imports what it needs
(the pipeline, SQLAlchemy, rich, scikit-learn) when it runs.
"""

from __future__ import annotations

import logging
import sys

import typer

# Typer carries its own copy of click: these, not the click package's, are what it raises.
from typer._click.exceptions import NoArgsIsHelpError, UsageError

from digest.cli import (
    admin,
    deliveries,
    launch,
    mailboxes,
    papers,
    reports,
    sending,
    subscribers,
)
from digest.cli.apps import app
from digest.errors import ConfigError, DigestError

__all__ = ["app", "main"]
# registered on import
COMMANDS = (launch, papers, sending, deliveries, reports, subscribers, mailboxes, admin)

USAGE_EXIT = 2  # the command as given cannot run: a typo, a missing value, a bad setting
FAILURE_EXIT = 1  # it ran and failed: an unreachable database, a failed check


def main() -> None:
    """Entry point: expected errors print one line on stderr and exit non-zero."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = app(prog_name="digest", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        typer.echo(exc.format_message())
        sys.exit(USAGE_EXIT)
    except UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "digest"
        _fail(f"{_one_line(exc.format_message())} (see `{command} --help`)", USAGE_EXIT)
    except typer.TyperException as exc:
        _fail(_one_line(exc.format_message()), exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except ConfigError as exc:
        _fail(str(exc), USAGE_EXIT)
    except DigestError as exc:
        _fail(str(exc), FAILURE_EXIT)
    except Exception as exc:
        line = _database_error(exc)
        if line is None:
            raise
        _fail(line, FAILURE_EXIT)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    # One line whatever the message holds (a source's reason can quote its payload).
    print(f"digest: {_one_line(message)}", file=sys.stderr)
    sys.exit(code)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _database_error(exc: Exception) -> str | None:
    """The one line for a database error a user can fix, or None for anything else."""
    from sqlalchemy.exc import OperationalError

    if not isinstance(exc, OperationalError):
        return None
    reason = _one_line(str(exc.orig))
    missing_tables = "no such table" in reason or "does not exist" in reason
    hint = " (run `digest db upgrade`)" if missing_tables else ""
    return f"database error: {reason}{hint}"
