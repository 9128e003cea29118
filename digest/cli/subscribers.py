"""`digest subscribers …`: operators' tools for subscribers."""

from __future__ import annotations

from typing import Annotated

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
    from digest.pipeline.notices import send_outbox
    from digest.store.outbox import queue_email
    from digest.store.subscribers import CONFIRMATION_EMAIL, add_subscriber
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
def subscribers_remove(email: Annotated[str, typer.Argument()]) -> None:
    """Delete a subscriber and their delivery history."""
    from digest.store.subscribers import remove_subscriber

    database = open_database(settings())
    with database.session() as session:
        removed = remove_subscriber(session, email)
    if not removed:
        raise DigestError(f"no subscriber {email}")
    console().print(f"removed {email}", markup=False)
