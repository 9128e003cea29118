"""`digest subscribers …`: operators' tools for subscribers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TextIO

import typer

from digest.cli.apps import subscribers_app
from digest.cli.common import console, open_database, settings
from digest.errors import DigestError


@subscribers_app.command("add")
def subscribers_add(
    email: Annotated[str, typer.Argument()],
    confirmed: Annotated[bool, typer.Option("--confirmed", help="Skip double opt-in")] = False,
    topics: Annotated[str, typer.Option(help="Comma-separated topics")] = "",
    timezone: Annotated[str, typer.Option(help="IANA timezone")] = "UTC",
    send_hour: Annotated[int, typer.Option(help="Local hour to send (0-23)")] = 7,
) -> None:
    """Add a subscriber; pending ones get a confirmation email.

    Pending unless --confirmed, which skips double opt-in.
    """
    from digest.pipeline.emails import CONFIRMATION_EMAIL
    from digest.pipeline.notices import send_outbox
    from digest.store.outbox import queue_email
    from digest.store.subscribers import add_subscriber
    from digest.store.types import utcnow

    current = settings()
    database = open_database(current)
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
        send_outbox(database, current)
    console().print(f"{address}: {state}", markup=False)


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

    database = open_database(settings())
    with database.session() as session:
        subscriber = change_follows(
            session, email, FollowChanges(topics, categories, authors, papers)
        )
        console().print(
            f"{subscriber.email}: topics [{', '.join(subscriber.topics)}] · "
            f"categories [{', '.join(subscriber.categories)}] · "
            f"authors [{', '.join(subscriber.authors)}] · {subscriber.edition_size} papers",
            markup=False,
        )


@subscribers_app.command("mute")
def subscribers_mute(
    email: Annotated[str, typer.Argument()],
    words: Annotated[
        str | None, typer.Option(help="Comma-separated words and phrases ('' clears)")
    ] = None,
    authors: Annotated[str | None, typer.Option(help="Comma-separated author names")] = None,
) -> None:
    """Change what a subscriber never wants to see: papers with these words or phrases, or
    by these authors, never reach them. A mute wins over a follow; each such pair is named."""
    from digest.pipeline.mutes import mute_conflicts
    from digest.store.follows import MuteChanges, change_mutes

    database = open_database(settings())
    with database.session() as session:
        subscriber = change_mutes(session, email, MuteChanges(words, authors))
        out = console()
        out.print(
            f"{subscriber.email}: muted [{', '.join(subscriber.muted)}] · "
            f"muted authors [{', '.join(subscriber.muted_authors)}]",
            markup=False,
        )
        for sentence in mute_conflicts(
            subscriber.topics, subscriber.authors, subscriber.muted, subscriber.muted_authors
        ):
            out.print(sentence, markup=False)


@subscribers_app.command("seed")
def subscribers_seed(
    emails: Annotated[
        list[str], typer.Argument(help="One or more subscribers", metavar="EMAIL...")
    ],
    file: Annotated[
        Path | None, typer.Option(help="A BibTeX, RIS or CSL-JSON export (Zotero's, say)")
    ] = None,
    paper: Annotated[
        list[str] | None,
        typer.Option(help="An arXiv id or link, a DOI or a title (repeatable)"),
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Add what can be used, skip the other entries")
    ] = False,
) -> None:
    """Give subscribers papers they like: they count as "more like this".

    Entries with a title and abstract are used as they are; arXiv ids are looked up once on
    arXiv; DOIs and titles are matched with stored papers. Each entry that cannot be used is
    reported as `line N: reason` on stderr, and then nothing is added unless --skip-bad.
    """
    from digest.pipeline.seeds import seed_from_submission, subscriber_ids

    if file is None and not paper:
        raise typer.BadParameter("give --file or at least one --paper", param_hint="--file")
    current = settings()
    upload = _read_library(file, current.seed_upload_max_bytes) if file is not None else None
    database = open_database(current)
    ids = subscriber_ids(database, emails)
    report = seed_from_submission(
        database,
        current,
        ids,
        "\n".join(paper or []),
        upload,
        file.name if file is not None else None,
        skip_bad=skip_bad,
    )
    for problem in report.problems:
        print(problem, file=sys.stderr)
    if report.refused is not None:
        raise DigestError(report.refused)
    console().print(
        f"added {report.added} · already there {report.already} · "
        f"skipped {len(report.problems)} · entries {report.entries}",
        markup=False,
    )


@subscribers_app.command("seeds")
def subscribers_seeds(email: Annotated[str, typer.Argument()]) -> None:
    """List a subscriber's seed papers (id, arXiv id or DOI, title).

    Read-only: it creates no database and no secret file.
    """
    from digest.pipeline.seeds import subscriber_ids
    from digest.store.seeds import list_seeds

    database = open_database(settings(read_only=True), read_only=True)
    [subscriber_id] = subscriber_ids(database, [email])
    with database.session() as session:
        seeds = list_seeds(session, subscriber_id)
    out = console()
    for seed in seeds:
        named = (
            f"arXiv:{seed.arxiv_id}" if seed.arxiv_id else (f"doi:{seed.doi}" if seed.doi else "-")
        )
        out.print(f"{seed.id} · {named} · {seed.title}", markup=False)
    out.print(f"{len(seeds)} seed papers", markup=False)


@subscribers_app.command("unseed")
def subscribers_unseed(
    email: Annotated[str, typer.Argument()],
    ids: Annotated[list[int] | None, typer.Argument(help="Seed ids from `seeds`")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Remove every seed paper")] = False,
) -> None:
    """Remove some or all of a subscriber's seed papers."""
    from digest.pipeline.seeds import subscriber_ids
    from digest.store.seeds import remove_seeds

    if not ids and not everything:
        raise typer.BadParameter("give seed ids or --all", param_hint="IDS")
    database = open_database(settings())
    [subscriber_id] = subscriber_ids(database, [email])
    with database.session() as session:
        removed = remove_seeds(session, subscriber_id, None if everything else list(ids or []))
    console().print(f"removed {removed} seed papers", markup=False)


def _read_library(path: Path, limit: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise DigestError(
                f"{path} is {size} bytes; DIGEST_SEED_UPLOAD_MAX_BYTES allows {limit}"
            )
        return path.read_bytes()
    except OSError as exc:
        raise DigestError(f"cannot read {path}: {exc.strerror or exc}") from None


@subscribers_app.command("list")
def subscribers_list(
    state: Annotated[str | None, typer.Option(help="Only this state")] = None,
) -> None:
    """List subscribers.

    Read-only: it creates no database and no secret file.
    """
    from rich.table import Table

    from digest.store.models import SubscriberState
    from digest.store.subscribers import list_subscribers

    try:
        wanted = SubscriberState(state) if state else None
    except ValueError:
        choices = ", ".join(s.value for s in SubscriberState)
        raise DigestError(f"--state must be one of {choices}") from None
    database = open_database(settings(read_only=True), read_only=True)
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
    console().print(table)


@subscribers_app.command("remove")
def subscribers_remove(
    email: Annotated[str, typer.Argument()],
    suppress: Annotated[
        bool,
        typer.Option(
            "--suppress/--typo",
            help="--typo: the address was the operator's own mistake; delete the row only, "
            "so it may be added again",
        ),
    ] = True,
) -> None:
    """Delete a subscriber and their history, at their request: the address goes on the
    suppression list (as the web's delete does) and is never added or mailed again."""
    from digest.store.subscribers import remove_subscriber

    database = open_database(settings())
    with database.session() as session:
        removed = remove_subscriber(session, email, suppress_address=suppress)
    if not suppress:
        if not removed:
            raise DigestError(f"no subscriber {email}")
        console().print(f"removed {email}; not suppressed, it may be added again", markup=False)
        return
    done = "removed" if removed else "no subscriber"
    console().print(f"{done} {email}; suppressed: it is never added or mailed again", markup=False)


@subscribers_app.command("import")
def subscribers_import(
    file: Annotated[Path, typer.Argument(help="CSV with a header row, or JSON Lines")],
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: by the file's name)")
    ] = None,
    confirmed: Annotated[
        bool, typer.Option("--confirmed", help="They opted in already: no confirmation email")
    ] = False,
    consent: Annotated[
        str | None, typer.Option(help="How and when they opted in (kept per subscriber)")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write the rejected lines here instead of stderr")
    ] = None,
) -> None:
    """Import subscribers from a file; new addresses get the double opt-in email.

    Known, suppressed, bounced and complained addresses are left as they are, so a second
    run changes nothing. Each rejected row is reported as `line N: reason`.
    """
    from digest.pipeline.imports import FORMATS, Consent, import_subscribers

    if confirmed and not (consent and consent.strip()):
        raise typer.BadParameter(
            "--confirmed needs --consent 'how and when they opted in'", param_hint="--consent"
        )
    if file_format is not None and file_format not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    current = settings()
    database = open_database(current)
    with _report_stream(report) as out:

        def rejected(line: int, reason: str) -> None:
            out.write(f"line {line}: {reason}\n")

        result = import_subscribers(
            database,
            file,
            file_format,
            Consent(confirmed, consent.strip() if consent else None),
            current.web,
            rejected,
        )
    console().print(
        f"added {result.added} · already there {result.already_there} · "
        f"suppressed {result.suppressed} · invalid {result.invalid} · "
        f"duplicates {result.duplicates} · confirmation emails queued "
        f"{result.confirmations_queued}",
        markup=False,
    )


@subscribers_app.command("export")
def subscribers_export(
    state: Annotated[str | None, typer.Option(help="Only this state")] = None,
    file_format: Annotated[str, typer.Option("--format", help="csv or jsonl")] = "csv",
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout")] = None,
) -> None:
    """Write every subscriber (or those of one state) as CSV or JSON Lines.

    Read-only: it creates no database and no secret file.
    """
    from digest.pipeline.exports import export_subscribers
    from digest.pipeline.imports import FORMATS
    from digest.store.models import SubscriberState

    if file_format not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    try:
        wanted = SubscriberState(state) if state else None
    except ValueError:
        choices = ", ".join(s.value for s in SubscriberState)
        raise typer.BadParameter(f"must be one of {choices}", param_hint="--state") from None
    database = open_database(settings(read_only=True), read_only=True)
    if out is None:
        export_subscribers(database, sys.stdout, file_format, wanted)
        return
    try:
        with out.open("w", encoding="utf-8", newline="") as handle:
            count = export_subscribers(database, handle, file_format, wanted)
    except OSError as exc:
        raise DigestError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"exported {count} subscribers to {out}", file=sys.stderr)


@contextmanager
def _report_stream(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stderr
        return
    try:
        handle = path.open("w", encoding="utf-8")
    except OSError as exc:
        raise DigestError(f"cannot write {path}: {exc.strerror or exc}") from None
    with handle:
        yield handle
