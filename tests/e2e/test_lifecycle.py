"""The whole life of a subscription through the real parts.

A real Celery worker on real Redis and PostgreSQL fetches papers from a local HTTP server
shaped like the Hugging Face API, sends the confirmation and the digest to a real SMTP
server (aiosmtpd), and honours a one-click unsubscribe.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from sqlalchemy import select
from starlette.testclient import TestClient

from digest.settings import get_settings
from digest.store.db import Database
from digest.store.migrate import upgrade
from digest.store.models import Delivery, DeliveryStatus, Paper, Subscriber, SubscriberState
from digest.web.app import create_app
from tests.conftest import REDIS_URL, TEST_SECRET, SmtpSink, free_port, reset_schema
from tests.e2e.harness import wait_for
from tests.web.support import confirm
from workers.app import make_celery
from workers.dispatch import celery_kick

ROOT = Path(__file__).resolve().parents[2]
PAPERS = [  # (id, title, upvotes): the digest must list them by trend, not by this order
    ("2611.00001", "Quiet Baselines for Tabular Learning", 4),
    ("2611.00002", "Sparse Mixtures Route Tokens Faster", 180),
    ("2611.00003", "Diffusion Planners for Robot Arms", 57),
]


def hf_payload(day: date) -> list[dict[str, Any]]:
    listed = f"{day.isoformat()}T00:00:00.000Z"
    return [
        {
            "paper": {
                "id": arxiv_id,
                "title": title,
                "summary": f"We study {title.lower()}.",
                "authors": [{"name": "Ada Lovelace"}, {"name": "Alan Turing"}],
                "publishedAt": listed,
                "submittedOnDailyAt": listed,
                "upvotes": upvotes,
            },
            "numComments": 1,
            "title": title,
        }
        for arxiv_id, title, upvotes in PAPERS
    ]


@pytest.fixture
def hf_server() -> Iterator[str]:
    """A local stand-in for the Hugging Face API serving any requested date."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            day = date.fromisoformat(query.get("date", [datetime.now(UTC).date().isoformat()])[0])
            body = json.dumps(hf_payload(day)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str, smtp_sink: SmtpSink, hf_server: str
) -> Iterator[dict[str, str]]:
    queue = f"digest-test-{uuid.uuid4().hex[:8]}"
    env = {
        "DIGEST_DATABASE_URL": postgres_url,
        "DIGEST_BROKER_URL": REDIS_URL,
        "DIGEST_MAIL_URL": smtp_sink.url,
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_BASE_URL": "https://digest.example.org",
        "DIGEST_HF_API_URL": hf_server,
        "DIGEST_TASK_QUEUE": queue,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()
    redis.Redis.from_url(env["DIGEST_BROKER_URL"]).delete(queue)


@pytest.fixture
def worker(environment: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.app",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env={**os.environ, **environment},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    process.wait(timeout=30)
    log.close()


def text_part(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_subscribe_confirm_receive_unsubscribe(
    environment: dict[str, str],
    worker: subprocess.Popen[bytes],
    smtp_sink: SmtpSink,
) -> None:
    settings = get_settings()
    db = Database(settings.database_url)
    reset_schema(db)
    upgrade(settings.database_url)
    celery = make_celery()
    today = datetime.now(UTC).date()

    celery.send_task("workers.tasks.fetch_papers", kwargs={"day": today.isoformat()})
    wait_for("papers to be fetched", lambda: _count_papers(db) == len(PAPERS))

    client = TestClient(create_app(settings, db, celery_kick(celery)))
    for address in ("reader@example.org", "colleague@example.org"):
        response = client.post("/subscribe", data={"email": address, "timezone": "UTC"})
        assert response.status_code == 200
    confirmation = wait_for(
        "the confirmation email", lambda: smtp_sink.messages_to("reader@example.org")
    )[0]
    link = re.search(
        r"https://digest\.example\.org/confirm\?token=([\w.\-]+)", text_part(confirmation)
    )
    assert link, text_part(confirmation)
    assert confirm(client, link.group(1)).status_code == 200
    colleague = wait_for(
        "the second confirmation", lambda: smtp_sink.messages_to("colleague@example.org")
    )[0]
    colleague_link = re.search(r"/confirm\?token=([\w.\-]+)", text_part(colleague))
    assert colleague_link and confirm(client, colleague_link.group(1)).status_code == 200

    with db.session() as session:
        for subscriber in session.scalars(select(Subscriber)):
            assert subscriber.state == SubscriberState.ACTIVE
            subscriber.send_hour = 0  # as the preferences page allows: due from midnight
            # The colleague takes two papers a day, so tomorrow brings the third, unseen one.
            subscriber.edition_size = 2 if subscriber.email.startswith("colleague") else 10

    celery.send_task("workers.tasks.plan_deliveries")
    digest = wait_for(
        "the digest",
        lambda: [m for m in smtp_sink.messages_to("reader@example.org") if m is not confirmation],
    )
    assert len(digest) == 1
    body = text_part(digest[0])
    positions = [body.index(title) for _, title, _ in sorted(PAPERS, key=lambda p: -p[2])]
    assert positions == sorted(positions), "papers are not in trend order"

    unsubscribe = digest[0]["List-Unsubscribe"].strip("<>")
    assert digest[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    response = client.post(
        unsubscribe,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200

    tomorrow_noon = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    tomorrow_noon += timedelta(hours=12)
    received_before = len(smtp_sink.messages_to("reader@example.org"))
    celery.send_task("workers.tasks.plan_deliveries", kwargs={"now": tomorrow_noon.isoformat()})
    wait_for(
        "the colleague's second digest",
        lambda: len(smtp_sink.messages_to("colleague@example.org")) == 3,
    )
    assert len(smtp_sink.messages_to("reader@example.org")) == received_before

    with db.session() as session:
        reader = session.scalars(
            select(Subscriber).where(Subscriber.email == "reader@example.org")
        ).one()
        assert reader.state == SubscriberState.UNSUBSCRIBED
        sent = session.scalars(select(Delivery).where(Delivery.subscriber_id == reader.id)).all()
        assert [d.status for d in sent] == [DeliveryStatus.SENT]
    reset_schema(db)
    db.dispose()


def _count_papers(db: Database) -> int:
    with db.session() as session:
        return len(session.scalars(select(Paper.id)).all())
