"""Delivery throughput on the real path, against the wire limit of the same SMTP sink.

    .venv/bin/python -m bench.send [--subscribers 1000 10000 100000] [--workers 2]

For each size, in one run: a fresh PostgreSQL database seeded with that many active
subscribers (a third follow a topic, so editions are personalised), Celery workers
(`celery worker --concurrency N`, prefork) on Redis, the planner task, and an SMTP sink in a
separate process (Postfix's `smtp-sink` when installed, else aiosmtpd). It reports the
seconds until every delivery is `sent`, messages per second, the ratio to the wire limit
(already rendered messages pushed to the same sink over one reused connection) and the peak
resident memory of the worker processes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.support import REDIS_URL, create_database, drop_database, free_port
from digest.mail.envelope import Envelope
from digest.mail.smtp import SmtpConfig, SmtpSender
from digest.papers import EditionEntry
from digest.render.renderer import DigestRenderer
from digest.settings import Settings
from digest.store.db import Database
from digest.store.migrate import upgrade
from digest.store.models import Delivery, DeliveryStatus, Paper, SignalSnapshot, Subscriber

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-key-long-enough-0123456789abcdef"
TOPICS = ["diffusion", "language", "robot", "graph", "speech", "vision"]
WIRE_SAMPLE = 3000


def start_sink(port: int) -> tuple[subprocess.Popen[bytes], str]:
    if shutil.which("smtp-sink"):
        command = ["smtp-sink", "-u", "nobody", f"127.0.0.1:{port}", "1024"]
        name = "Postfix smtp-sink"
    else:
        command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                   "-c", "aiosmtpd.handlers.Sink"]  # fmt: skip
        name = "aiosmtpd Sink"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return process, name


def seed(db: Database, subscribers: int, now: datetime) -> None:
    with db.session() as session:
        for i in range(60):
            topic = TOPICS[i % len(TOPICS)]
            paper = Paper(
                arxiv_id=f"2611.{70000 + i}",
                title=f"{topic.title()} models, part {i}: a study of {topic} at scale",
                abstract=f"We study {topic} with a new method and report strong results. " * 4,
                authors=["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"],
                url=f"https://arxiv.org/abs/2611.{70000 + i}",
                listed_on=now.date(),
                source="hf",
            )
            session.add(paper)
            session.flush()
            session.add(SignalSnapshot(paper_id=paper.id, source="hf", upvotes=200 - i,
                                       comments=i % 7, observed_at=now))  # fmt: skip
    rows = [
        {"email": f"reader{i:06d}@example.org", "state": "active", "timezone": "UTC",
         "send_hour": 0, "frequency": "daily", "send_weekday": 0,
         "topics": [TOPICS[i % len(TOPICS)]] if i % 3 == 0 else [], "categories": [],
         "authors": [], "edition_size": 10, "created_at": now, "updated_at": now}
        for i in range(subscribers)
    ]  # fmt: skip
    for start in range(0, len(rows), 10_000):
        with db.session() as session:
            session.execute(insert(Subscriber), rows[start : start + 10_000])


def wire_limit(smtp_url: str) -> float:
    settings = Settings(secret_key=SECRET, smtp_url=smtp_url)
    renderer = DigestRenderer(settings.email, datetime.now(UTC).date())
    entries = [
        EditionEntry(rank=i, score=1.0, arxiv_id=f"2611.{70000 + i}",
                     title=f"A paper about diffusion models, part {i}",
                     abstract="We study diffusion with a new method. " * 8,
                     url=f"https://arxiv.org/abs/2611.{70000 + i}", upvotes=100, paper_id=i)
        for i in range(1, 11)
    ]  # fmt: skip
    messages = [
        renderer.render(subscriber_id=i, email=f"wire{i}@example.org", entries=entries)
        for i in range(WIRE_SAMPLE)
    ]
    started = time.perf_counter()
    with SmtpSender(SmtpConfig.from_url(smtp_url)) as sender:
        for i, message in enumerate(messages):
            sender.send(message, Envelope("digest@example.org", f"wire{i}@example.org"))
    return WIRE_SAMPLE / (time.perf_counter() - started)


def worker_peak_rss_mb(root_pid: int) -> float:
    """Peak resident memory (VmHWM) of the largest process in the worker's tree."""
    peak = 0
    for pid in [root_pid, *children(root_pid)]:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak / 1024


def children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    pids = [int(child) for child in found]
    return pids + [grand for child in pids for grand in children(child)]


def sent(db: Database) -> int:
    with db.session() as session:
        return int(
            session.scalar(select(func.count()).where(Delivery.status == DeliveryStatus.SENT)) or 0
        )


def run_size(count: int, workers: int, smtp_url: str) -> tuple[float, float]:
    name, url = create_database()
    queue = f"digest-bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DIGEST_DATABASE_URL": url, "DIGEST_BROKER_URL": REDIS_URL,
           "DIGEST_SMTP_URL": smtp_url, "DIGEST_SECRET_KEY": SECRET, "DIGEST_TASK_QUEUE": queue,
           "DIGEST_BASE_URL": "https://digest.example.org"}  # fmt: skip
    worker: subprocess.Popen[bytes] | None = None
    try:
        upgrade(url)
        db = Database(url)
        seed(db, count, datetime.now(UTC))
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.app", "worker",
             f"--concurrency={workers}", "--loglevel=WARNING", "--without-heartbeat",
             "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        time.sleep(3)
        from celery import Celery

        app = Celery("bench", broker=REDIS_URL)
        app.conf.task_default_queue = queue
        started = time.perf_counter()
        app.send_task("workers.tasks.plan_deliveries")
        while sent(db) < count:
            time.sleep(0.5)
        seconds = time.perf_counter() - started
        memory = worker_peak_rss_mb(worker.pid)
        db.dispose()
        return seconds, memory
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    port = free_port()
    sink, sink_name = start_sink(port)
    smtp_url = f"smtp://127.0.0.1:{port}"
    try:
        wire = wire_limit(smtp_url)
        print(f"sink: {sink_name}; wire limit {wire:.0f} msg/s (pre-rendered, one connection)")
        print(f"{'subscribers':>11} {'seconds':>8} {'msg/s':>7} {'of wire':>8} {'worker RSS':>11}")
        for count in args.subscribers:
            seconds, memory = run_size(count, args.workers, smtp_url)
            rate = count / seconds
            print(f"{count:>11} {seconds:>8.1f} {rate:>7.0f} {rate / wire:>8.0%} {memory:>8.0f} MB")
    finally:
        sink.terminate()


if __name__ == "__main__":
    main()
