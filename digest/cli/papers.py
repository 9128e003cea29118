"""Commands that bring papers in: fetch a day or a range, embed them."""

from __future__ import annotations

import time
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from digest.cli.apps import app
from digest.cli.common import console, open_database, parse_day, settings
from digest.errors import DigestError

if TYPE_CHECKING:
    from digest.pipeline.fetch import IngestReport


@app.command()
def fetch(
    day: Annotated[
        str | None, typer.Option("--date", help="Day to fetch, or last day with --since")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Backfill every day from this one (YYYY-MM-DD)")
    ] = None,
    source: Annotated[str, typer.Option(help="hf, arxiv, sample or file:PATH")] = "hf",
) -> None:
    """Ingest papers now: one day, or every day from --since on."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from digest.pipeline.fetch import run_fetch
    from digest.store.types import utcnow

    current = settings()
    database = open_database(current)
    end = parse_day(day, "--date") or utcnow().date()
    start = parse_day(since, "--since") or end
    if start > end:
        raise DigestError(f"--since {start} is after the last day to fetch, {end}")
    out = console()
    with Progress(
        TextColumn("fetching {task.fields[day]}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=out,
        transient=True,
        disable=start == end,
    ) as progress:
        task = progress.add_task("fetch", total=(end - start).days + 1, day=start.isoformat())

        def day_done(done: date, report: IngestReport) -> None:
            progress.update(task, advance=1, day=f"{done} ({report.seen} papers so far)")

        report = run_fetch(database, current, source, start, end, on_day=day_done)
    window = str(start) if start == end else f"{start}..{end}"
    out.print(
        f"{report.source} {window}: {report.seen} seen, {report.new} new, "
        f"{report.updated} updated, {report.skipped_count} skipped, "
        f"{report.unchanged} unchanged pages in {report.duration:.1f}s"
    )
    for identifier, reason in report.skipped[:20]:
        out.print(f"  skipped {identifier}: {reason}", markup=False)
    if report.skipped_count > 20:
        out.print(f"  … and {report.skipped_count - 20} more (see the log)")
    if report.error:
        raise DigestError(f"fetch from {report.source} incomplete: {report.error}")


@app.command()
def embed(
    redo: Annotated[
        bool, typer.Option("--all", help="Embed every paper again, not only those without one")
    ] = False,
) -> None:
    """Give every stored paper a vector (the semantic extra)."""
    from digest.pipeline.fetch import embed_papers
    from digest.semantic import load_embedder

    current = settings()
    database = open_database(current)
    embedder = load_embedder(current)
    if embedder is None:
        raise DigestError("semantic ranking is off (see the log); nothing to embed")
    started = time.monotonic()
    count = embed_papers(database, embedder, redo=redo)
    console().print(f"embedded {count} papers in {time.monotonic() - started:.1f}s")
