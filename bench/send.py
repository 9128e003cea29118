"""Send throughput of the in-process pipeline against the wire limit of the same SMTP sink.

    .venv/bin/python -m bench.send [--subscribers 1000]

Starts an aiosmtpd sink in a separate process, then in one run measures:
- wire: already rendered messages pushed over one reused SMTP connection;
- pipeline: `send_due_now` on SQLite (plan, claim, render, send, record) for N subscribers.
Prints messages per second for both and their ratio. The delivery issue deepens this into
the Celery + Redis + PostgreSQL benchmark.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from digest.mail.plan import send_due_now
from digest.mail.smtp import SmtpConfig, SmtpSender
from digest.render.digest import render_digest
from digest.settings import Settings
from digest.sources.ingest import fetch_and_store
from digest.sources.sample import SampleSource
from digest.store.db import Database
from digest.store.editions import build_edition, edition_entries
from digest.store.migrate import upgrade
from digest.store.models import Subscriber, SubscriberState


class _Discard:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def _serve(port: int, ready: multiprocessing.synchronize.Event) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(_Discard(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    args = parser.parse_args()

    port = _free_port()
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=_serve, args=(port, ready), daemon=True)
    sink.start()
    ready.wait(10)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        settings = Settings(
            database_url=url, smtp_url=f"smtp://127.0.0.1:{port}", secret_key="b" * 40
        )
        db = Database(url)
        now = datetime.now(UTC)
        fetch_and_store(db, SampleSource(), now.date())
        with db.session() as session:
            session.add_all(
                Subscriber(
                    email=f"reader{i}@example.org", state=SubscriberState.ACTIVE, send_hour=0
                )
                for i in range(args.subscribers)
            )
            edition = build_edition(session, now.date(), size=10, window_days=7, now=now)
            assert edition is not None
            entries = edition_entries(session, edition)

        messages = [
            render_digest(
                settings,
                subscriber_id=i,
                email=f"wire{i}@example.org",
                edition_date=now.date(),
                entries=entries,
            )
            for i in range(args.subscribers)
        ]
        started = time.perf_counter()
        with SmtpSender(SmtpConfig.from_url(settings.smtp_url)) as sender:
            for message in messages:
                sender.send(message)
        wire = args.subscribers / (time.perf_counter() - started)

        started = time.perf_counter()
        counts = send_due_now(db, settings, now, edition=now.date())
        pipeline = counts.sent / (time.perf_counter() - started)
        assert counts.sent == args.subscribers, counts
    sink.terminate()
    print(f"subscribers        {args.subscribers}")
    print(f"wire limit         {wire:8.0f} msg/s (pre-rendered, one connection)")
    print(f"pipeline (SQLite)  {pipeline:8.0f} msg/s (plan, claim, render, send, record)")
    print(f"ratio              {pipeline / wire:8.2f}")


if __name__ == "__main__":
    main()
