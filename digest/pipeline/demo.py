"""`digest demo`: the whole life of a digest in one process, offline-capable."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from rich.console import Console

from digest.errors import DigestError, SourceError
from digest.mail.catcher import MailCatcher
from digest.pipeline.fetch import IngestReport, build_source, fetch_and_store
from digest.pipeline.notices import send_outbox
from digest.pipeline.plan import send_due_now
from digest.settings import Settings, resolve_secret_key
from digest.sources.http import make_http_client
from digest.store.db import Database
from digest.store.migrate import upgrade
from digest.store.subscribers import (
    add_subscriber,
    confirm_subscription,
    find_by_email,
    request_subscription,
)
from digest.store.types import utcnow
from digest.tokens import Purpose, read_token

DEMO_ADDRESSES = ("ada@example.org", "grace@example.org")
OPERATOR_ADDRESS = "lab-list@example.org"
LIVE_SOURCE_TIMEOUT_SECONDS = 5.0


def run_demo(folder: Path, console: Console) -> None:
    """Fetch, subscribe, confirm, send; print where everything is."""
    folder = folder.resolve()
    mail_folder = folder / "mail"
    _reset(folder, mail_folder)
    database_url = f"sqlite:///{folder / 'digest.db'}"
    upgrade(database_url)
    db = Database(database_url)
    with MailCatcher(mail_folder) as catcher:
        settings = Settings(
            database_url=database_url,
            mail_url=catcher.url,
            http_timeout_seconds=LIVE_SOURCE_TIMEOUT_SECONDS,
        )
        settings.secret_key = resolve_secret_key(settings)
        console.print(f"[bold]digest demo[/bold] in {folder}")
        console.print(f"  database      {database_url}")
        console.print(f"  mail catcher  {catcher.url} -> {mail_folder}")

        report = _fetch(db, settings, console)
        console.print(f"  papers        {report.new} stored for {report.day} ({report.source})")

        now = utcnow()
        for address in DEMO_ADDRESSES:
            _subscribe_and_confirm(db, settings, address, mail_folder)
            console.print(f"  subscribed    {address} (confirmation email caught, link followed)")
        with db.session() as session:
            add_subscriber(session, OPERATOR_ADDRESS, confirmed=True, send_hour=0)
        console.print(f"  added         {OPERATOR_ADDRESS} (operator, --confirmed)")

        counts = send_due_now(db, settings, now, edition=now.date())
        console.print(
            f"  sent          {counts.sent} digests for {now.date()}"
            f" (skipped {counts.skipped}, deferred {counts.deferred})"
        )
        caught = catcher.received
    db.dispose()
    digests = sorted(mail_folder.glob("*.html"))
    console.print(f"\n{caught} emails are in {mail_folder}:")
    for path in sorted(mail_folder.glob("*.eml")):
        console.print(f"  {path.name}")
    if digests:
        console.print(f"\nOpen the newest digest in a browser: file://{digests[-1]}")
    console.print(
        "The .eml files open in any mail client. Next: `digest serve` for the web pages, "
        "and the README for running on Celery + Redis + PostgreSQL."
    )


def _reset(folder: Path, mail_folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob("digest.db*"):
        path.unlink()
    shutil.rmtree(mail_folder, ignore_errors=True)


def _fetch(db: Database, settings: Settings, console: Console) -> IngestReport:
    """Today's papers from Hugging Face, or the shipped sample when it can't be reached."""
    today = utcnow().date()
    with make_http_client(settings.sources) as client:
        try:
            with _quiet("digest.sources"):  # an offline demo is expected; say it once, below
                report = fetch_and_store(db, build_source("hf", settings, client), today)
            if report.seen:
                return report
            console.print("  live source   Hugging Face listed nothing today; using the sample")
        except SourceError as exc:
            console.print(f"  live source   unreachable ({exc}); using the built-in sample papers")
        return fetch_and_store(db, build_source("sample", settings, client), today)


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _subscribe_and_confirm(db: Database, settings: Settings, address: str, mail: Path) -> None:
    with db.session() as session:
        request_subscription(session, address)
    send_outbox(db, settings)  # the confirmation, as the web process would send it
    with db.session() as session:
        # Midnight local send hour: the demo's subscribers are due right away.
        subscriber = find_by_email(session, address)
        assert subscriber is not None
        subscriber.send_hour = 0
    token = _confirm_token_from_mail(mail, address)
    subject = read_token(settings.secret_key, Purpose.CONFIRM, token, max_age_seconds=3600)
    with db.session() as session:
        confirm_subscription(session, subject)


def _confirm_token_from_mail(mail: Path, address: str) -> str:
    """Follow the link the way a reader would: out of the email that was received."""
    for path in sorted(mail.glob("*.eml"), reverse=True):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"] != address or not isinstance(message, EmailMessage):
            continue
        body = message.get_body(preferencelist=("plain",))
        match = re.search(r"/confirm\?token=([\w.\-]+)", body.get_content() if body else "")
        if match:
            return match.group(1)
    raise DigestError(f"no confirmation email for {address} reached the catcher")
