"""The `digest` command line: operators' tools and the demo."""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError

from digest.errors import DigestError
from digest.pipeline.plan import send_due_now
from digest.settings import Settings, get_settings
from digest.store.db import Database
from digest.store.deliveries import HeldRows, held_rows, uncertain_rows
from digest.store.types import utcnow

app = typer.Typer(help="Trending research papers by email.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
subscribers_app = typer.Typer(help="Operator tools for subscribers.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(subscribers_app, name="subscribers")
bounces_app = typer.Typer(help="Bounce and complaint reports.", no_args_is_help=True)
app.add_typer(bounces_app, name="bounces")
unsubscribes_app = typer.Typer(help="Unsubscribe requests sent by email.", no_args_is_help=True)
app.add_typer(unsubscribes_app, name="unsubscribes")
console = Console()


def _parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DigestError(f"{option} must be a date like 2026-11-25, got {value!r}") from None


def _database(settings: Settings) -> Database:
    database = Database(settings.database_url)
    database.check()
    return database


@app.command()
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="Where the demo keeps its data")] = Path(
        "digest-demo"
    ),
) -> None:
    """Run the whole job offline: SQLite, a local SMTP catcher, sample papers if needed."""
    from digest.pipeline.demo import run_demo

    run_demo(folder, console)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Web processes (one per core is a good start)")] = 1,
    send_inline: Annotated[
        bool,
        typer.Option(help="Send subscriber emails only from the web process, never via Celery"),
    ] = False,
) -> None:
    """Serve the web app (subscribe, confirm, preferences, unsubscribe, archive)."""
    import uvicorn

    from digest.serve import SEND_INLINE

    _database(get_settings())  # fail here, with one line, if the database is unreachable
    if send_inline:
        os.environ[SEND_INLINE] = "1"
    # No access log: request lines carry the signed tokens of confirm/unsubscribe links.
    uvicorn.run(
        "digest.serve:application",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        access_log=False,
    )


def _celery(*arguments: str) -> None:
    os.execvp(sys.executable, [sys.executable, "-m", "celery", "-A", "workers.app", *arguments])


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(ctx: typer.Context) -> None:
    """Start a Celery worker (extra arguments go to `celery worker`)."""
    _celery("worker", "--loglevel=INFO", *ctx.args)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def beat(ctx: typer.Context) -> None:
    """Start the Celery beat scheduler (extra arguments go to `celery beat`)."""
    _celery("beat", "--loglevel=INFO", *ctx.args)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    from digest.store.migrate import upgrade

    settings = get_settings()
    _database(settings)
    upgrade(settings.database_url)
    console.print("database is up to date")


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
    """Ingest papers now: one day (default today), or every day from --since on."""
    from digest.pipeline.fetch import IngestReport, run_fetch

    settings = get_settings()
    database = _database(settings)
    end = _parse_day(day, "--date") or utcnow().date()
    start = _parse_day(since, "--since") or end
    if start > end:
        raise DigestError(f"--since {start} is after the last day to fetch, {end}")
    with Progress(
        TextColumn("fetching {task.fields[day]}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=start == end,
    ) as progress:
        task = progress.add_task("fetch", total=(end - start).days + 1, day=start.isoformat())

        def day_done(done: date, report: IngestReport) -> None:
            progress.update(task, advance=1, day=f"{done} ({report.seen} papers so far)")

        report = run_fetch(database, settings, source, start, end, on_day=day_done)
    window = str(start) if start == end else f"{start}..{end}"
    console.print(
        f"{report.source} {window}: {report.seen} seen, {report.new} new, "
        f"{report.updated} updated, {report.skipped_count} skipped, "
        f"{report.unchanged} unchanged pages in {report.duration:.1f}s"
    )
    for identifier, reason in report.skipped[:20]:
        console.print(f"  skipped {identifier}: {reason}", markup=False)
    if report.skipped_count > 20:
        console.print(f"  … and {report.skipped_count - 20} more (see the log)")
    if report.error:
        raise DigestError(f"fetch from {report.source} incomplete: {report.error}")


@app.command()
def embed(
    redo: Annotated[
        bool, typer.Option("--all", help="Embed every paper again, not only those without one")
    ] = False,
) -> None:
    """Give every stored paper a vector from the configured model (the semantic extra)."""
    from digest.pipeline.fetch import embed_papers
    from digest.semantic import load_embedder

    settings = get_settings()
    database = _database(settings)
    embedder = load_embedder(settings)
    if embedder is None:
        raise DigestError("semantic ranking is off (see the log); nothing to embed")
    started = time.monotonic()
    count = embed_papers(database, embedder, redo=redo)
    console.print(f"embedded {count} papers in {time.monotonic() - started:.1f}s")


@app.command()
def send(
    edition: Annotated[
        str | None, typer.Option(help="Pool date (default: each subscriber's today)")
    ] = None,
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
    """Send the edition to every active subscriber who is due and has not received it."""
    from digest.addresses import normalise_email

    settings = get_settings()
    database = _database(settings)
    day = _parse_day(edition, "--edition")
    only_email = normalise_email(only) if only else None
    waiting = _HeldNotice()
    with Progress(
        TextColumn("sending"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    ) as progress:
        task = progress.add_task("send", total=None)
        counts = send_due_now(
            database,
            settings,
            utcnow(),
            edition=day,
            only_email=only_email,
            dry_run=dry_run,
            on_planned=lambda total: progress.update(task, total=total),
            on_progress=lambda n: progress.advance(task, n),
            on_held=(lambda held: waiting.show(held, progress)) if wait else None,
        )
    verb = "would send" if dry_run else "sent"
    console.print(
        f"due {counts.due} · {verb} {counts.sent} · "
        f"nothing new for {counts.empty} · skipped {0 if dry_run else counts.skipped} · "
        f"deferred {counts.deferred} · "
        f"bounced {counts.bounced} · failed {counts.failed}"
    )
    for error in sorted(set(counts.errors))[:5]:
        console.print(f"  {error}", style="yellow")
    if not dry_run and not wait:
        held = held_rows(database, utcnow())
        if held.live or held.expired:
            console.print(describe_held(held), style="yellow", soft_wrap=True)
    if not dry_run:
        # Confirmations and notices waiting in the outbox leave with the run too.
        from digest.pipeline.notices import send_outbox

        outbox = send_outbox(database, settings)
        if outbox.handled:
            console.print(
                f"subscriber emails: sent {len(outbox.sent)} · retrying {outbox.deferred} · "
                f"given up {outbox.failed} · nothing to send {outbox.skipped}"
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


class _HeldNotice:
    """Tells the operator, once per change, what `digest send` is waiting for."""

    def __init__(self) -> None:
        self.last: HeldRows | None = None

    def show(self, held: HeldRows, progress: Progress) -> None:
        if held != self.last:
            progress.console.print(describe_held(held) + "; waiting", soft_wrap=True)
            self.last = held


@app.command()
def preview(
    email: Annotated[str, typer.Argument(help="Subscriber's address")],
    edition: Annotated[str | None, typer.Option(help="Pool date (default: today)")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the HTML part here")] = None,
) -> None:
    """Render one subscriber's digest without sending it."""
    from digest.pipeline.preview import preview_digest

    settings = get_settings()
    database = _database(settings)
    day = _parse_day(edition, "--edition") or utcnow().date()
    message = preview_digest(database, settings, email, day)
    if out is not None:
        html = message.get_body(preferencelist=("html",))
        assert html is not None
        out.write_text(html.get_content(), encoding="utf-8")
        console.print(f"wrote {out}")
        return
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    typer.echo(f"Subject: {message['Subject']}\nTo: {message['To']}\n\n{text.get_content()}")


@subscribers_app.command("add")
def subscribers_add(
    email: Annotated[str, typer.Argument()],
    confirmed: Annotated[bool, typer.Option("--confirmed", help="Skip double opt-in")] = False,
    topics: Annotated[str, typer.Option(help="Comma-separated topics")] = "",
    timezone: Annotated[str, typer.Option(help="IANA timezone")] = "UTC",
    send_hour: Annotated[int, typer.Option(help="Local hour to send (0-23)")] = 7,
) -> None:
    """Add a subscriber (pending unless --confirmed; pending ones get a confirmation email)."""
    from digest.pipeline.notices import send_outbox
    from digest.store.outbox import queue_email
    from digest.store.subscribers import CONFIRMATION_EMAIL, add_subscriber
    from digest.store.types import utcnow

    settings = get_settings()
    database = _database(settings)
    with database.session() as session:
        subscriber = add_subscriber(
            session,
            email,
            confirmed=confirmed,
            topics=topics,
            timezone=timezone,
            send_hour=send_hour,
        )
        address, state = subscriber.email, subscriber.state.value
        if not confirmed:
            queue_email(session, CONFIRMATION_EMAIL, utcnow(), subscriber_id=subscriber.id)
    if not confirmed:
        # Sent now if the SMTP server answers; otherwise the outbox retries it.
        send_outbox(database, settings)
    console.print(f"{address}: {state}")


@subscribers_app.command("follow")
def subscribers_follow(
    email: Annotated[str, typer.Argument()],
    topics: Annotated[str | None, typer.Option(help="Comma-separated topics ('' clears)")] = None,
    categories: Annotated[
        str | None, typer.Option(help="Comma-separated arXiv categories, e.g. cs.CL")
    ] = None,
    authors: Annotated[str | None, typer.Option(help="Comma-separated author names")] = None,
    papers: Annotated[int | None, typer.Option(help="Papers per edition")] = None,
) -> None:
    """Change what a subscriber follows and how many papers they get."""
    from digest.store.follows import FollowChanges, change_follows

    database = _database(get_settings())
    with database.session() as session:
        subscriber = change_follows(
            session, email, FollowChanges(topics, categories, authors, papers)
        )
        console.print(
            f"{subscriber.email}: topics [{', '.join(subscriber.topics)}] · "
            f"categories [{', '.join(subscriber.categories)}] · "
            f"authors [{', '.join(subscriber.authors)}] · {subscriber.edition_size} papers",
            markup=False,
        )


@subscribers_app.command("list")
def subscribers_list(
    state: Annotated[str | None, typer.Option(help="Only this state")] = None,
) -> None:
    """List subscribers."""
    from digest.store.models import SubscriberState
    from digest.store.subscribers import list_subscribers

    try:
        wanted = SubscriberState(state) if state else None
    except ValueError:
        choices = ", ".join(s.value for s in SubscriberState)
        raise DigestError(f"--state must be one of {choices}") from None
    database = _database(get_settings())
    table = Table("email", "state", "timezone", "hour", "frequency", "follows")
    with database.session() as session:
        for s in list_subscribers(session, wanted):
            table.add_row(
                s.email,
                s.state.value,
                s.timezone,
                str(s.send_hour),
                s.frequency.value,
                ", ".join([*s.topics, *s.categories, *s.authors]),
            )
    console.print(table)


@subscribers_app.command("remove")
def subscribers_remove(email: Annotated[str, typer.Argument()]) -> None:
    """Delete a subscriber and their delivery history."""
    from digest.store.subscribers import remove_subscriber

    database = _database(get_settings())
    with database.session() as session:
        removed = remove_subscriber(session, email)
    if not removed:
        raise DigestError(f"no subscriber {email}")
    console.print(f"removed {email}")


@bounces_app.command("import")
def bounces_import(
    path: Annotated[
        Path | None, typer.Argument(help="Maildir to read (default: DIGEST_BOUNCE_MAILDIR)")
    ] = None,
) -> None:
    """Read new bounce and complaint reports from a Maildir and suppress those addresses."""
    from digest.pipeline.bounces import import_maildir

    settings = get_settings()
    folder = path or settings.bounce_maildir
    if folder is None:
        raise DigestError("give the Maildir to read, or set DIGEST_BOUNCE_MAILDIR")
    report = import_maildir(_database(settings), settings.email, folder)
    console.print(
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

    settings = get_settings()
    folder = path or settings.unsubscribe_maildir
    if folder is None:
        raise DigestError("give the Maildir to read, or set DIGEST_UNSUBSCRIBE_MAILDIR")
    report = import_unsubscribes(_database(settings), settings.email, folder)
    console.print(
        f"{report.messages} messages: {report.unsubscribed} unsubscribed, "
        f"{report.already} already unsubscribed, {report.invalid} invalid token, "
        f"{report.no_token} without a token",
        soft_wrap=True,
    )


@app.command()
def stats() -> None:
    """Subscribers by state, deliveries by outcome, the last editions' runs."""
    from digest.store.stats import OUTBOX_LABELS, collect_stats, describe_edition

    database = _database(get_settings())
    with database.session() as session:
        report = collect_stats(session)
    console.print(
        "subscribers: " + (", ".join(f"{k} {v}" for k, v in report.subscribers.items()) or "none"),
        soft_wrap=True,
    )
    console.print(
        "deliveries: " + (", ".join(f"{k} {v}" for k, v in report.deliveries.items()) or "none"),
        soft_wrap=True,
    )
    console.print(
        "subscriber emails: "
        + " · ".join(f"{OUTBOX_LABELS[k]} {v}" for k, v in report.outbox.items()),
        soft_wrap=True,
    )
    held = held_rows(database, utcnow())
    if held.live or held.expired:
        console.print(describe_held(held), soft_wrap=True)
    uncertain = uncertain_rows(database)
    if uncertain:
        console.print(
            f"uncertain: {uncertain} (a sender stopped with the message in flight; sent again "
            "with the same Message-ID, so a few may hold two copies)",
            soft_wrap=True,
        )
    console.print("editions:" if report.editions else "editions: none")
    for row in report.editions:
        for line in describe_edition(row):
            console.print(line, markup=False, soft_wrap=True)


@app.command()
def doctor(
    dns: Annotated[
        bool, typer.Option("--dns/--no-dns", help="Look up DKIM, SPF, DMARC and MX in DNS")
    ] = True,
) -> None:
    """Check DKIM, the From domain, the base URL, SMTP with TLS and the DNS records;
    non-zero if any fails."""
    from digest.doctor import Status, run_checks

    checks = run_checks(get_settings(), dns=dns)
    for check in checks:
        typer.echo(check.line())
    failed = sum(check.status is Status.FAIL for check in checks)
    if failed:
        raise DigestError(f"doctor: {failed} check{'s' if failed > 1 else ''} failed")


def main() -> None:
    """Entry point: expected errors print one line on stderr and exit non-zero."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except DigestError as exc:
        print(f"digest: {exc}", file=sys.stderr)
        sys.exit(1)
    except OperationalError as exc:
        reason = " ".join(str(exc.orig).split())
        hint = (
            " (run `digest db upgrade`)"
            if "no such table" in reason or "does not exist" in reason
            else ""
        )
        print(f"digest: database error: {reason}{hint}", file=sys.stderr)
        sys.exit(1)
