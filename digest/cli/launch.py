"""Commands that launch the service: the demo, the web app, Celery, migrations."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from digest.cli.apps import app, db_app
from digest.cli.common import console, open_database, settings


@app.command()
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="Where the demo keeps its data")] = Path(
        "digest-demo"
    ),
) -> None:
    """Run the whole job offline on embedded defaults.

    SQLite, a local SMTP catcher, and sample papers when the live source cannot be reached.
    """
    from digest.pipeline.demo import run_demo

    run_demo(folder, console())


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
    """Serve the subscriber web app (uvicorn).

    Subscribe, confirm, preferences, unsubscribe, archive.
    """
    import uvicorn

    from digest.serve import SEND_INLINE

    open_database(settings())  # fail here, with one line, if the database is unreachable
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
    """Start a Celery worker (extra arguments go to Celery)."""
    _celery("worker", "--loglevel=INFO", *ctx.args)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def beat(ctx: typer.Context) -> None:
    """Start the Celery scheduler, beat (extra arguments go to it)."""
    _celery("beat", "--loglevel=INFO", *ctx.args)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations.

    Creates the SQLite database when it is not there yet.
    """
    from digest.store.migrate import upgrade

    current = settings()
    open_database(current)
    upgrade(current.database_url)
    console().print("database is up to date")
