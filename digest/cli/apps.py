"""The `digest` command and its groups; the command modules register on these."""

from __future__ import annotations

from typing import Annotated

import typer


def _plain_typer(help_text: str) -> typer.Typer:
    # Plain help, not rich panels: it imports no rich, so `digest --help` stays quick, and it
    # shows no type after every flag. Bugs keep Python's own traceback, which copies whole.
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
    )


app = _plain_typer("Trending research papers by email.")
db_app = _plain_typer("Database schema.")
subscribers_app = _plain_typer("Operator tools for subscribers.")
bounces_app = _plain_typer("Bounce and complaint reports.")
unsubscribes_app = _plain_typer("Unsubscribe requests sent by email.")
admin_app = _plain_typer("The operator dashboard at /admin.")
deliveries_app = _plain_typer("The delivery queue: rows of senders that stopped.")
app.add_typer(db_app, name="db")
app.add_typer(subscribers_app, name="subscribers")
app.add_typer(bounces_app, name="bounces")
app.add_typer(unsubscribes_app, name="unsubscribes")
app.add_typer(admin_app, name="admin")
app.add_typer(deliveries_app, name="deliveries")

# `--edition`, the old name of `--day`: still accepted for a release, with a warning
# (digest.cli.common.day_option), and no longer shown in the help.
OldDayOption = Annotated[str | None, typer.Option("--edition", hidden=True)]
