"""Delivery throughput on the real path, as a ratio to the wire limit of the same SMTP sink.

    .venv/bin/python -m bench.send [--sizes 1000 10000 100000] [--dkim-sizes ...] [--workers 2]

One SMTP sink for the whole run, in a process of its own (Postfix's `smtp-sink` when it is
installed, else aiosmtpd's Sink), and against it, in this order:

(a) `smtp-source` (when Postfix is installed): one connection, `--wire-messages` copies of
    one of our digests, from a file;
(b) `smtplib.SMTP.sendmail(from, [to], bytes)` on one connection, over digests rendered and
    serialised before the clock starts: nothing of ours is inside either wire figure;
(b2) the same from as many processes at once as there are workers, each on its own
    connection with its share of the messages: the wire the workers' connections share;
(c) end to end for each size: a fresh PostgreSQL database seeded with that many active
    subscribers (a third follow a topic, so editions are personalised), Celery workers on
    Redis (`celery worker --concurrency N`, prefork), the planner task, and the clock runs
    until every delivery has its outcome recorded; then the same with DKIM signing on.

The wire figures are measured before the runs and again after each (the machine is
shared), and every ratio is to the best of them. It prints messages per second, the ratios,
and the workers' peak resident memory. `--profile` runs the workers of the first size under
py-spy and prints where their time went.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, insert, select

from bench.support import create_database, drop_database, free_port
from digest.papers import EditionEntry
from digest.render.renderer import DigestRenderer
from digest.settings import Settings
from digest.store.db import Database
from digest.store.migrate import upgrade
from digest.store.models import Delivery, DeliveryStatus, Paper, SignalSnapshot, Subscriber

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-key-long-enough-0123456789abcdef"
BASE_URL = "https://digest.example.org"
FROM = "digest@example.org"
TOPICS = ["diffusion", "language", "robot", "graph", "speech", "vision"]
PAPERS = 60
# A Redis database of its own: the benchmark's queues never meet anyone else's.
REDIS_URL = os.environ.get("DIGEST_BENCH_SEND_REDIS_URL", "redis://127.0.0.1:6379/11")
UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.CLAIMED, DeliveryStatus.DEFERRED)


@dataclass(frozen=True)
class Sink:
    name: str
    url: str
    port: int
    process: subprocess.Popen[bytes]


def start_sink() -> Sink:
    port = free_port()
    if shutil.which("smtp-sink"):
        command = ["smtp-sink", "-u", "nobody", f"127.0.0.1:{port}", "1024"]
        name = "Postfix smtp-sink"
    else:
        command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                   "-c", "aiosmtpd.handlers.Sink"]  # fmt: skip
        name = "aiosmtpd Sink (Postfix not installed)"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return Sink(name, f"smtp://127.0.0.1:{port}", port, process)


def paper_title(i: int) -> str:
    topic = TOPICS[i % len(TOPICS)]
    return f"{topic.title()} models, part {i}: a study of {topic} at scale"


def paper_abstract(i: int) -> str:
    return f"We study {TOPICS[i % len(TOPICS)]} with a new method and report strong results. " * 4


AUTHORS = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"]


def seed(db: Database, subscribers: int, now: datetime) -> None:
    with db.session() as session:
        for i in range(PAPERS):
            paper = Paper(
                arxiv_id=f"2611.{70000 + i}",
                title=paper_title(i),
                abstract=paper_abstract(i),
                authors=AUTHORS,
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


def sample_messages(count: int) -> list[bytes]:
    """`count` digests like the seeded ones (ten of the same papers, personal links), as the
    bytes the send path hands to SMTP; made before any wire figure's clock starts."""
    settings = Settings(secret_key=SECRET, base_url=BASE_URL, from_address=f"Papers <{FROM}>")
    renderer = DigestRenderer(settings.email, datetime.now(UTC).date())
    entries = [
        EditionEntry(rank=rank, score=1.0, arxiv_id=f"2611.{70000 + i}", title=paper_title(i),
                     abstract=paper_abstract(i), url=f"https://arxiv.org/abs/2611.{70000 + i}",
                     authors=AUTHORS, upvotes=200 - i, comments=i % 7, paper_id=i + 1)
        for rank, i in enumerate(range(0, 30, 3), start=1)
    ]  # fmt: skip
    return [
        renderer.render_wire(subscriber_id=i, email=f"reader{i:06d}@example.org", entries=entries)
        .data
        for i in range(count)
    ]  # fmt: skip


def wire_smtplib(sink: Sink, messages: list[bytes]) -> float:
    """(b): pre-serialised bytes through smtplib's sendmail, one connection; msg/s."""
    smtp = smtplib.SMTP("127.0.0.1", sink.port)
    smtp.ehlo()
    started = time.perf_counter()
    for i, data in enumerate(messages):
        smtp.sendmail(FROM, [f"reader{i:06d}@example.org"], data)
    seconds = time.perf_counter() - started
    smtp.quit()
    return len(messages) / seconds


def wire_smtplib_parallel(sink: Sink, messages: list[bytes], connections: int) -> float:
    """(b2): (b) from `connections` processes at once, each with its share; msg/s overall.

    The processes are forked before the clock starts and wait for one signal (a pipe) to
    begin, so neither their start-up nor their imports are in the figure.
    """
    if connections < 2:
        return wire_smtplib(sink, messages)
    go_read, go_write = os.pipe()
    children = []
    for part in range(connections):
        pid = os.fork()
        if pid == 0:  # the child: connect, wait for the signal, send its share, exit
            status = 1
            try:
                os.close(go_write)
                smtp = smtplib.SMTP("127.0.0.1", sink.port)
                smtp.ehlo()
                os.read(go_read, 1)
                for i in range(part, len(messages), connections):
                    smtp.sendmail(FROM, [f"reader{i:06d}@example.org"], messages[i])
                smtp.quit()
                status = 0
            finally:
                os._exit(status)  # never return into the parent's code
        children.append(pid)
    os.close(go_read)
    time.sleep(0.5)  # every child connected and waiting
    started = time.perf_counter()
    os.write(go_write, b"x" * connections)
    statuses = [os.waitpid(pid, 0)[1] for pid in children]
    seconds = time.perf_counter() - started
    os.close(go_write)
    if any(statuses):
        raise RuntimeError("a (b2) wire process failed: its figure would flatter the wire")
    return len(messages) / seconds


def wire_smtp_source(sink: Sink, message: bytes, count: int) -> float | None:
    """(a): Postfix's smtp-source, one connection, `count` copies of `message`; None if
    Postfix is not installed."""
    if not shutil.which("smtp-source"):
        return None
    with tempfile.NamedTemporaryFile(suffix=".eml") as file:
        # smtp-source appends CRLF to each line and dot-stuffs: give it bare lines.
        file.write(message.replace(b"\r\n", b"\n"))
        file.flush()
        started = time.perf_counter()
        subprocess.run(
            ["smtp-source", "-d", "-s", "1", "-m", str(count), "-F", file.name, "-f", FROM,
             "-t", "reader@example.org", f"127.0.0.1:{sink.port}"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        return count / (time.perf_counter() - started)


def dkim_key(folder: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = folder / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return path


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


def outcomes(db: Database) -> dict[str, int]:
    with db.session() as session:
        rows = session.execute(select(Delivery.status, func.count()).group_by(Delivery.status))
        return {str(status): int(count) for status, count in rows}


def wait_until_done(db: Database, count: int, started: float) -> float:
    """Poll until `count` rows exist and none is unfinished; when the last row was queued.

    The polls are cheap (the unfinished rows' partial index) and rare while much is left:
    the database they run on is the one being measured.
    """
    planned: float | None = None
    while True:
        with db.session() as session:
            if (
                planned is None
                and (session.scalar(select(func.count()).select_from(Delivery)) or 0) >= count
            ):
                planned = time.perf_counter() - started
            left = (
                session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.status.in_(UNFINISHED))
                )
                or 0
            )
        if planned is not None and not left:
            return planned
        time.sleep(0.05 if planned is not None and left < 500 else 0.5)


def wait_for_workers(app: Any, timeout: float = 120.0) -> None:
    """Until a worker answers a ping: the clock must not count the workers' start-up."""
    deadline = time.monotonic() + timeout
    while not app.control.ping(timeout=0.5):
        if time.monotonic() > deadline:
            raise RuntimeError("the Celery workers did not start")


@dataclass(frozen=True)
class Run:
    seconds: float
    planned: float  # until every row was queued
    sent: int
    other: dict[str, int]
    rss_mb: float


def run_size(
    count: int, workers: int, sink: Sink, extra_env: dict[str, str], profile: Path | None
) -> Run:
    name, url = create_database()
    queue = f"digest-bench-{uuid.uuid4().hex[:8]}"
    journal = Path(tempfile.gettempdir()) / f"{queue}-journal.jsonl"
    env = {**os.environ, "DIGEST_DATABASE_URL": url, "DIGEST_BROKER_URL": REDIS_URL,
           "DIGEST_MAIL_URL": sink.url, "DIGEST_SECRET_KEY": SECRET, "DIGEST_TASK_QUEUE": queue,
           "DIGEST_BASE_URL": BASE_URL, "DIGEST_FROM": f"Papers <{FROM}>",
           "DIGEST_SEND_JOURNAL": str(journal), **extra_env}  # fmt: skip
    command = [sys.executable, "-m", "celery", "-A", "workers.app", "worker",
               f"--concurrency={workers}", "--loglevel=WARNING", "--without-heartbeat",
               "--without-gossip", "--without-mingle"]  # fmt: skip
    if profile is not None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        command = [spy, "record", "--subprocesses", "--format", "raw", "--rate", "200",
                   "-o", str(profile), "--", *command]  # fmt: skip
    worker: subprocess.Popen[bytes] | None = None
    from celery import Celery

    app = Celery("bench", broker=REDIS_URL)
    app.conf.task_default_queue = queue
    try:
        upgrade(url)
        db = Database(url)
        seed(db, count, datetime.now(UTC))
        worker = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        wait_for_workers(app)
        time.sleep(1)  # every pool process forked and idle
        started = time.perf_counter()
        app.send_task("workers.tasks.plan_deliveries")
        planned = wait_until_done(db, count, started)
        seconds = time.perf_counter() - started
        memory = worker_peak_rss_mb(worker.pid)
        done = outcomes(db)
        db.dispose()
        sent = done.pop(str(DeliveryStatus.SENT), 0)
        return Run(seconds, planned, sent, done, memory)
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGINT if profile else signal.SIGTERM)
            worker.wait(timeout=120)
        redis.Redis.from_url(REDIS_URL).delete(queue)
        journal.unlink(missing_ok=True)
        drop_database(name)


def print_profile(path: Path, lines: int = 25) -> None:
    """The functions where the workers spent their samples: own time, and with callees."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames or "idle" in frames[-1]:
            continue
        samples += int(count)
        own[_short(frames[-1])] += int(count)
        for frame in {_short(f) for f in frames}:
            total[frame] += int(count)
    print(f"\nprofile: {samples} samples of the worker processes ({path})")
    print("  own time  function")
    for frame, n in own.most_common(lines):
        print(f"  {n / samples:7.1%}  {frame}")
    print("  with callees, digest's own functions")
    ours = [(f, n) for f, n in total.most_common() if "digest/" in f or "workers/" in f]
    for frame, n in ours[:lines]:
        print(f"  {n / samples:7.1%}  {frame}")


def _short(frame: str) -> str:
    # "name (path/to/file.py:line)" -> "name (file path from the package on)".
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "python3.11/", str(ROOT) + "/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where.rsplit(':', 1)[0]})"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument(
        "--dkim-sizes", type=int, nargs="*", default=None,
        help="sizes to run with DKIM on (default: --sizes; none: skip)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="celery --concurrency")
    parser.add_argument("--wire-messages", type=int, default=5000)
    parser.add_argument(
        "--wire-rounds", type=int, default=2, help="wire measurements before and after each run"
    )  # fmt: skip
    parser.add_argument(
        "--profile", type=Path, default=None,
        help="record the first size's workers with py-spy into this file",
    )  # fmt: skip
    args = parser.parse_args()
    dkim_sizes = args.sizes if args.dkim_sizes is None else args.dkim_sizes
    sink = start_sink()
    folder = Path(tempfile.mkdtemp(prefix="digest-bench-send-"))
    try:
        messages = sample_messages(args.wire_messages)
        wire = Wire(sink, messages, args.wire_rounds, args.workers)
        wire.measure()
        print(f"sink: {sink.name}; one digest is {len(messages[0]):,} bytes")
        key = dkim_key(folder)
        runs = [(False, size) for size in args.sizes] + [(True, size) for size in dkim_sizes]
        results: list[tuple[bool, int, Run]] = []
        for index, (dkim, count) in enumerate(runs):
            extra = (
                {"DIGEST_DKIM_KEY_FILE": str(key), "DIGEST_DKIM_SELECTOR": "bench"} if dkim else {}
            )
            profile = args.profile if index == 0 else None
            run = run_size(count, args.workers, sink, extra, profile)
            results.append((dkim, count, run))
            print(f"  done: DKIM {'on' if dkim else 'off'}, {count} subscribers, "
                  f"{run.sent / run.seconds:.0f} msg/s", file=sys.stderr, flush=True)  # fmt: skip
            wire.measure()  # the wire again after each run: the reference is its best
        print(wire.describe())
        print(f"(c) end to end, celery --concurrency {args.workers}, PostgreSQL, Redis; "
              "ratios to the best wire figures of the run:")  # fmt: skip
        print(f"{'DKIM':>5} {'subscribers':>11} {'seconds':>8} {'msg/s':>7} {'/ (a)':>6} "
              f"{'/ (b)':>6} {'/ (b2)':>6} {'worker RSS':>11} {'planned':>8}  "
              "outcomes")  # fmt: skip
        for dkim, count, run in results:
            rate = run.sent / run.seconds
            source = max(wire.source, default=None)
            of_source = f"{rate / source:6.2f}" if source else f"{'-':>6}"
            other = ", ".join(f"{n} {status}" for status, n in sorted(run.other.items()))
            print(f"{'on' if dkim else 'off':>5} {count:>11} {run.seconds:>8.1f} {rate:>7.0f} "
                  f"{of_source} {rate / max(wire.smtplib):6.2f} {rate / max(wire.parallel):6.2f} "
                  f"{run.rss_mb:>8.0f} MB "
                  f"{run.planned:>7.1f}s  "
                  f"{run.sent} sent{', ' + other if other else ''}")  # fmt: skip
        if args.profile is not None:
            print_profile(args.profile)
    finally:
        sink.process.terminate()
        shutil.rmtree(folder, ignore_errors=True)


class Wire:
    """The wire figures, measured before the runs and again after each: the machine is
    shared, and the best of them is the least flattering reference."""

    def __init__(self, sink: Sink, messages: list[bytes], rounds: int, connections: int) -> None:
        self.sink, self.messages, self.rounds = sink, messages, rounds
        self.connections = connections
        self.source: list[float] = []
        self.smtplib: list[float] = []
        self.parallel: list[float] = []

    def measure(self) -> None:
        for _ in range(self.rounds):
            source = wire_smtp_source(self.sink, self.messages[0], len(self.messages))
            if source is not None:
                self.source.append(source)
            self.smtplib.append(wire_smtplib(self.sink, self.messages))
            self.parallel.append(wire_smtplib_parallel(self.sink, self.messages, self.connections))

    def describe(self) -> str:
        def spread(rates: list[float]) -> str:
            return f"{max(rates):7.0f} msg/s  (best of {len(rates)}; lowest {min(rates):.0f})"

        source = spread(self.source) if self.source else "   (Postfix not installed)"
        return (
            f"(a) smtp-source, one connection:       {source}\n"
            f"(b) smtplib bytes, one connection:     {spread(self.smtplib)}\n"
            f"(b2) the same, {self.connections} connections at once: {spread(self.parallel)}"
        )


if __name__ == "__main__":
    main()
