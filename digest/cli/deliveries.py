"""`digest deliveries`: control of the delivery queue (release the rows of senders that
stopped)."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.apps import deliveries_app
from digest.cli.common import console, open_database, parse_day, settings


@deliveries_app.command()
def release(
    edition: Annotated[
        str | None, typer.Option("--day", "--edition", help="Only this day's rows")
    ] = None,
) -> None:
    """Make rows whose sender's lease ran out claimable now; a live sender's stay its own."""
    from digest.pipeline.queue import release_stale_claims
    from digest.store.types import utcnow

    database = open_database(settings())
    released = release_stale_claims(database, utcnow(), parse_day(edition, "--day"))
    console().print(
        f"released {released.rows} rows ({released.in_flight} of them were in flight: "
        "counted as uncertain)"
    )
