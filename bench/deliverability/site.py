"""The emails and the web app of one bench run: every email kind sent through the real
pipeline (tests/deliverability/mailings.py), and the app on uvicorn over the same store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from bench.support import REDIS_URL, free_port
from digest.store.db import Database
from digest.web import create_app
from tests.deliverability.mailings import Caught, production_settings, send_every_kind
from tests.deliverability.pages import Page, site_settings, visit_every_page
from tests.render.factories import SigningKey


@dataclass(frozen=True)
class Site:
    url: str
    mail: dict[str, Caught]
    pages: dict[str, Page]


@contextmanager
def serve(folder: Path, key: SigningKey) -> Iterator[Site]:
    """Send every kind, then serve the app on a free loopback port and visit every page."""
    mail = send_every_kind(folder, free_port(), key.pem)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = site_settings(production_settings(folder, free_port(), key.pem), REDIS_URL)
    settings = settings.model_copy(update={"base_url": url})
    db = Database(settings.database_url)
    app = create_app(settings, db, lambda: None)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            pages = visit_every_page(client, mail, settings, db)
        yield Site(url, mail, pages)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        db.dispose()
