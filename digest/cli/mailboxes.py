"""Commands that read Maildirs: bounce reports and mailed unsubscribe requests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from digest.cli.apps import bounces_app, unsubscribes_app
from digest.cli.common import console, open_database, settings
from digest.errors import DigestError


@bounces_app.command("import")
def bounces_import(
    path: Annotated[
        Path | None, typer.Argument(help="Maildir to read (default: DIGEST_BOUNCE_MAILDIR)")
    ] = None,
) -> None:
    """Read new bounce and complaint reports from a Maildir and suppress those addresses."""
    from digest.pipeline.bounces import import_maildir

    current = settings()
    folder = path or current.bounce_maildir
    if folder is None:
        raise DigestError("give the Maildir to read, or set DIGEST_BOUNCE_MAILDIR")
    report = import_maildir(open_database(current), current.email, folder)
    console().print(
        f"{report.messages} reports: {report.bounced} bounced, {report.complained} complained, "
        f"{report.already} already suppressed, {report.unknown} unknown, "
        f"{report.unmatched} unmatched, {report.invalid} invalid, {report.ignored} ignored, "
        f"{report.unreadable} unreadable",
        soft_wrap=True,
    )


@unsubscribes_app.command("import")
def unsubscribes_import(
    path: Annotated[
        Path | None,
        typer.Argument(help="Maildir to read (default: DIGEST_UNSUBSCRIBE_MAILDIR)"),
    ] = None,
) -> None:
    """Read new mail sent to the List-Unsubscribe mailbox and unsubscribe those it names."""
    from digest.pipeline.unsubscribes import import_unsubscribes

    current = settings()
    folder = path or current.unsubscribe_maildir
    if folder is None:
        raise DigestError("give the Maildir to read, or set DIGEST_UNSUBSCRIBE_MAILDIR")
    report = import_unsubscribes(open_database(current), current.email, folder)
    console().print(
        f"{report.messages} messages: {report.unsubscribed} unsubscribed, "
        f"{report.already} already unsubscribed, {report.invalid} invalid token, "
        f"{report.no_token} without a token",
        soft_wrap=True,
    )
