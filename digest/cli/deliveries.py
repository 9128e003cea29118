"""`digest deliveries`: control of the delivery queue (release the rows of senders that
stopped)."""

from __future__ import annotations

from typing import Annotated

import typer

from digest.cli.apps import OldDayOption, deliveries_app
from digest.cli.common import console, day_option, open_database, settings


@deliveries_app.command()
def release(
    day: Annotated[str | None, typer.Option("--day", help="Only this day's rows")] = None,
    edition: OldDayOption = None,
) -> None:
    """Make rows whose sender's lease ran out claimable now; a live sender's stay its own."""
    from digest.pipeline.queue import release_stale_claims
    from digest.store.types import utcnow

    database = open_database(settings())
    released = release_stale_claims(database, utcnow(), day_option(day, edition))
    console().print(
        f"released {released.rows} rows ({released.in_flight} of them were in flight: "
        "counted as uncertain)"
    )
