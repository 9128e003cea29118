"""Commands around an edition: plan who is due, send it, preview one subscriber's copy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from digest.cli.apps import OldDayOption, app
from digest.cli.common import console, day_option, open_database, settings
from digest.cli.progress import SendProgress

if TYPE_CHECKING:
    from digest.store.deliveries import HeldRows


@app.command()
def plan(
    day: Annotated[
        str | None,
        typer.Option("--day", help="The day to send (default: each subscriber's today)"),
    ] = None,
    edition: OldDayOption = None,
) -> None:
    """Queue who is due without sending (the step beat runs); per day, how many."""
    from digest.pipeline.plan import plan_deliveries
    from digest.store.types import utcnow

    current = settings()
    database = open_database(current)
    report = plan_deliveries(database, current, utcnow(), edition=day_option(day, edition))
    out = console()
    for queued_day, count in sorted(report.queued.items()):
        out.print(
            f"{queued_day.isoformat()}: queued {count} (already queued ones stay as they are)"
        )
    for empty_day in sorted(report.no_papers):
        out.print(f"{empty_day.isoformat()}: no papers yet, nobody queued", style="yellow")
    if not report.queued and not report.no_papers:
        out.print("nobody is due")


@app.command()
def send(
    day: Annotated[
        str | None,
        typer.Option("--day", help="The day to send (default: each subscriber's today)"),
    ] = None,
    edition: OldDayOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and render, send nothing")
    ] = False,
    only: Annotated[str | None, typer.Option(help="Send only to this address")] = None,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="Wait for rows another sender holds, taking over those whose lease runs out",
        ),
    ] = True,
) -> None:
    """Send the edition to every subscriber who is due.

    Every active subscriber who is due and has not received it; a bar shows the count.
    """
    from digest.addresses import normalise_email
    from digest.pipeline.plan import send_everything_due
    from digest.store.types import utcnow

    current = settings()
    database = open_database(current)
    chosen = day_option(day, edition)
    only_email = normalise_email(only) if only else None
    out = console()
    waiting = HeldNotice()
    with SendProgress(out) as progress:
        run = send_everything_due(
            database,
            current,
            utcnow(),
            edition=chosen,
            only_email=only_email,
            dry_run=dry_run,
            on_planned=progress.planned,
            on_progress=progress.advance,
            on_held=(lambda held: waiting.show(held, progress)) if wait else None,
        )
    counts = run.digests
    verb = "would send" if dry_run else "sent"
    out.print(
        f"due {counts.due} · {verb} {counts.sent} · "
        f"nothing new for {counts.empty} · skipped {0 if dry_run else counts.skipped} · "
        f"deferred {counts.deferred} · "
        f"bounced {counts.bounced} · failed {counts.failed}"
    )
    if counts.taken_over:
        out.print(
            f"  {counts.taken_over} rows were taken over by another sender after this one's "
            "lease ran out; that sender sends them",
            style="yellow",
        )
    for error in sorted(set(counts.errors))[:5]:
        out.print(f"  {error}", style="yellow", markup=False)
    if run.held is not None and (run.held.live or run.held.expired):
        out.print(describe_held(run.held), style="yellow", soft_wrap=True)
    if run.notices is not None and run.notices.handled:
        notices = run.notices
        out.print(
            f"subscriber emails: sent {len(notices.sent)} · retrying {notices.deferred} · "
            f"given up {notices.failed} · nothing to send {notices.skipped}"
        )


def describe_held(held: HeldRows) -> str:
    """One line on rows other senders hold, and when they become claimable."""
    parts = []
    if held.live:
        until = held.claimable_at.strftime("%H:%M:%S UTC") if held.claimable_at else "soon"
        parts.append(f"{held.live} held by another sender (claimable by {until} if it stops)")
    if held.expired:
        parts.append(f"{held.expired} held by a sender that stopped (claimable now)")
    return "queued rows: " + " · ".join(parts)


class HeldNotice:
    """Tells the operator, once per change, what `digest send` is waiting for."""

    def __init__(self) -> None:
        self.last: HeldRows | None = None

    def show(self, held: HeldRows, progress: SendProgress) -> None:
        if held != self.last:
            progress.note(describe_held(held) + "; waiting")
            self.last = held


@app.command()
def preview(
    email: Annotated[str, typer.Argument(help="Subscriber's address")],
    day: Annotated[str | None, typer.Option("--day", help="The day (default: today)")] = None,
    edition: OldDayOption = None,
    out: Annotated[Path | None, typer.Option(help="Write the HTML part here")] = None,
) -> None:
    """Render one subscriber's digest without sending it.

    Read-only: it creates no database and no secret file.
    """
    from digest.pipeline.preview import preview_digest
    from digest.store.types import utcnow

    chosen = day_option(day, edition) or utcnow().date()
    current = settings(read_only=True)
    database = open_database(current, read_only=True)
    message = preview_digest(database, current, email, chosen)
    if out is not None:
        html = message.get_body(preferencelist=("html",))
        assert html is not None
        out.write_text(html.get_content(), encoding="utf-8")
        console().print(f"wrote {out}", markup=False)
        return
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    typer.echo(f"Subject: {message['Subject']}\nTo: {message['To']}\n\n{text.get_content()}")
