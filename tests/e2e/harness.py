"""Real parts for delivery fault tests: Celery workers as processes, a controllable SMTP
server, a private Redis that can be restarted, and a seeded PostgreSQL store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, insert, select

from digest.store.db import Database
from digest.store.models import Delivery, DeliveryStatus, Paper, SignalSnapshot, Subscriber
from digest.store.models import SubscriberState as State
from tests.conftest import TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parents[2]


class ControlledSink:
    """An SMTP server whose handlers tests can script (drop connections, refuse, crash)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_recipient: Counter[str] = Counter()
        self.accepted = 0
        self.before_accept: Callable[[int, str], str | None] = lambda n, rcpt: None
        self.on_rcpt: Callable[[str], str | None] = lambda rcpt: None
        self.drop_every = 0
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        refusal = self.on_rcpt(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipient = envelope.rcpt_tos[0]
        with self.lock:
            number = self.accepted + 1
        answer = self.before_accept(number, recipient)
        if answer:
            return answer
        with self.lock:
            self.accepted += 1
            self.by_recipient[recipient] += 1
            drop = self.drop_every and self.accepted % self.drop_every == 0
        if drop:  # accept this one, then hang up on the client
            server.loop.call_soon(server.transport.close)
        return "250 OK"


class WorkerProcess:
    """`celery worker` in a subprocess, killable with SIGKILL and restartable."""

    def __init__(self, env: dict[str, str], log_path: Path, concurrency: int = 1) -> None:
        self.env = env
        self.log_path = log_path
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        pool = ["--pool=solo"] if self.concurrency == 1 else [f"--concurrency={self.concurrency}"]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.app", "worker", *pool,
             "--loglevel=WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle",
             f"--hostname=test-{uuid.uuid4().hex[:6]}@%h"],
            cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()

    def kill(self) -> None:
        """SIGKILL the worker and every process it started: no cleanup, like a lost machine."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class PrivateRedis:
    """A redis-server of the test's own, so restarting it disturbs nothing else."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for("redis to start", self._answers, timeout=10)

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url).ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def worker_env(database_url: str, broker_url: str, mail_url: str, **extra: str) -> dict[str, str]:
    return {
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_BROKER_URL": broker_url,
        "DIGEST_MAIL_URL": mail_url,
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_BASE_URL": "https://digest.example.org",
        "DIGEST_TASK_QUEUE": f"digest-test-{uuid.uuid4().hex[:8]}",
        **extra,
    }


def seed(db: Database, subscribers: int, day: datetime) -> None:
    """Papers for the day and `subscribers` active readers, due from midnight UTC."""
    with db.session() as session:
        for i in range(12):
            paper = Paper(
                arxiv_id=f"2611.{80000 + i}",
                title=f"Paper {i} on topic {i % 4}",
                abstract="An abstract.",
                url=f"https://arxiv.org/abs/2611.{80000 + i}",
                listed_on=day.date(),
                source="hf",
            )
            session.add(paper)
            session.flush()
            session.add(
                SignalSnapshot(paper_id=paper.id, source="hf", upvotes=100 - i, comments=0,
                               observed_at=datetime(2000, 1, 1, tzinfo=UTC))
            )  # fmt: skip
        session.execute(
            insert(Subscriber),
            [
                {"email": f"reader{i:05d}@example.org", "state": State.ACTIVE.value,
                 "timezone": "UTC", "send_hour": 0, "frequency": "daily", "send_weekday": 0,
                 "topics": [], "categories": [], "authors": [], "edition_size": 5,
                 "created_at": day, "updated_at": day}
                for i in range(subscribers)
            ],
        )  # fmt: skip


def statuses(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        return {status.value: count for status, count in rows}


def sent_count(db: Database) -> int:
    return statuses(db).get(DeliveryStatus.SENT.value, 0)


def run_planner(celery_app: Any) -> None:
    celery_app.send_task("workers.tasks.plan_deliveries")


class CompressedBeat:
    """Beat, compressed: sends the planner task every `every` seconds from a thread."""

    def __init__(self, celery_app: Any, every: float) -> None:
        self.celery_app = celery_app
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                run_planner(self.celery_app)
            except Exception:  # the broker may be down on purpose; beat keeps trying
                continue

    def __enter__(self) -> CompressedBeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
