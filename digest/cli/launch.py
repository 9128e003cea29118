"""Commands that launch the service: the demo, the web app, Celery, migrations."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from digest.cli.apps import app, db_app
from digest.cli.common import console, open_database, settings
from digest.errors import DigestError

# uvicorn's own default: a proxy on this machine.
DEFAULT_TRUSTED_PROXIES = "127.0.0.1,::1"


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
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            envvar="FORWARDED_ALLOW_IPS",
            help="Your reverse proxy's addresses or networks, comma-separated: only from them "
            "is X-Forwarded-For believed ('' believes no one)",
        ),
    ] = DEFAULT_TRUSTED_PROXIES,
) -> None:
    """Serve the subscriber web app (uvicorn).

    Subscribe, confirm, preferences, unsubscribe, archive.
    """
    import uvicorn

    from digest.serve import SEND_INLINE

    proxies = trusted_proxies(forwarded_allow_ips)
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
        forwarded_allow_ips=proxies,
        access_log=False,
    )


def trusted_proxies(value: str) -> list[str]:
    """The proxies a `--forwarded-allow-ips` value names, each an IP address or network (or
    `*`, everyone); DigestError for anything else, which uvicorn would silently never match."""
    proxies = [item.strip() for item in value.split(",") if item.strip()]
    for proxy in proxies:
        if proxy == "*":
            continue
        try:
            ipaddress.ip_network(proxy)
        except ValueError:
            raise DigestError(
                f"--forwarded-allow-ips / FORWARDED_ALLOW_IPS: {proxy[:60]!r} is not an IP "
                "address or network"
            ) from None
    return proxies


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
