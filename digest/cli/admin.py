"""`digest admin …`: the operator dashboard's credential."""

from __future__ import annotations

import sys

import typer

from digest.cli.apps import admin_app


@admin_app.command("hash-password")
def admin_hash_password() -> None:
    """Read a password (prompted, or one line on stdin) and print its hash line.

    Put the line in DIGEST_ADMIN_PASSWORD_HASH to turn on /admin.
    """
    from digest.web.admin_password import hash_password

    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise typer.BadParameter("the password is empty")
    typer.echo(hash_password(password).line())
