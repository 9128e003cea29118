"""Read-only reports: `digest stats` and `digest doctor`."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.apps import app
from digest.cli.common import console, open_database, settings
from digest.cli.sending import describe_held
from digest.errors import DigestError


@app.command()
def stats() -> None:
    """Subscribers by state, deliveries by outcome, recent runs.

    Read-only: it creates no database and no secret file.
    """
    from digest.store.deliveries import held_rows, uncertain_rows
    from digest.store.stats import OUTBOX_LABELS, collect_stats, describe_edition
    from digest.store.types import utcnow

    database = open_database(settings(read_only=True), read_only=True)
    with database.session() as session:
        report = collect_stats(session)
    out = console()
    out.print(
        "subscribers: " + (", ".join(f"{k} {v}" for k, v in report.subscribers.items()) or "none"),
        soft_wrap=True,
    )
    out.print(
        "deliveries: " + (", ".join(f"{k} {v}" for k, v in report.deliveries.items()) or "none"),
        soft_wrap=True,
    )
    out.print(
        "subscriber emails: "
        + " · ".join(f"{OUTBOX_LABELS[k]} {v}" for k, v in report.outbox.items()),
        soft_wrap=True,
    )
    held = held_rows(database, utcnow())
    if held.live or held.expired:
        out.print(describe_held(held), soft_wrap=True)
    uncertain = uncertain_rows(database)
    if uncertain:
        out.print(
            f"uncertain: {uncertain} (a sender stopped with the message in flight; sent again "
            "with the same Message-ID, so a few may hold two copies)",
            soft_wrap=True,
        )
    out.print("editions:" if report.editions else "editions: none")
    for row in report.editions:
        for line in describe_edition(row):
            out.print(line, markup=False, soft_wrap=True)


@app.command()
def doctor(
    dns: Annotated[
        bool, typer.Option("--dns/--no-dns", help="Look up DKIM, SPF, DMARC and MX in DNS")
    ] = True,
) -> None:
    """Check DKIM, the From domain, SMTP, TLS and DNS records.

    Also the base URL; one line per check, non-zero if any fails. Read-only.
    """
    from digest.doctor import Status, run_checks

    checks = run_checks(settings(read_only=True), dns=dns)
    for check in checks:
        typer.echo(check.line())
    failed = sum(check.status is Status.FAIL for check in checks)
    if failed:
        raise DigestError(f"doctor: {failed} check{'s' if failed > 1 else ''} failed")
