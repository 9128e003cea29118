"""Latency of POST /subscribe and POST /unsubscribe under a fixed offered load.

    .venv/bin/python -m bench.web [--rate 200] [--seconds 20]

Runs the real app on uvicorn (one process, on loopback) over a fresh PostgreSQL database,
with rate limits in Redis and confirmations handed to a Celery queue on Redis that no
worker reads (enqueued, not sent; the queue is deleted afterwards). An open-loop client
fires requests at the offered rate whether or not earlier ones have answered, half
subscribes (a new address each, from varied client addresses via X-Forwarded-For) and
half one-click unsubscribes, and reports requests per second and p50/p99 latency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from bench.support import REDIS_URL, create_database, drop_database, free_port
from digest import links
from digest.settings import Settings
from digest.store.db import Database
from digest.store.migrate import upgrade
from digest.store.subscribers import add_subscriber

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
CONNECTIONS = 64


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def bench_settings(database_url: str, port: int, queue: str) -> Settings:
    return Settings(
        database_url=database_url,
        broker_url=REDIS_URL,
        secret_key=SECRET,
        base_url=f"http://127.0.0.1:{port}",
        task_queue=queue,
    )


def serve(database_url: str, port: int, queue: str, workers: int) -> subprocess.Popen[bytes]:
    """`digest serve` (uvicorn, `workers` processes), its Celery dispatcher only enqueueing:
    nothing consumes the bench's queue."""
    env = {
        **os.environ,
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_BROKER_URL": REDIS_URL,
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_BASE_URL": f"http://127.0.0.1:{port}",
        "DIGEST_TASK_QUEUE": queue,
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from digest.cli import main; main()", "serve",
         "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def unsubscribe_paths(database_url: str, settings: Settings, count: int) -> list[str]:
    """`count` active subscribers, and the path of each one's one-click unsubscribe."""
    db = Database(database_url)
    paths = []
    with db.session() as session:
        for i in range(count):
            row = add_subscriber(session, f"reader{i}@bench.example", confirmed=True)
            session.flush()
            url = links.unsubscribe_url(settings, row.id, row.email)
            paths.append(url.removeprefix(settings.base_url))
    db.dispose()
    return paths


async def load(
    port: int, rate: float, seconds: float, unsubscribe: list[str], warmup: float = 0.0
) -> tuple[dict[str, Samples], float]:
    """Fire requests on a fixed schedule (open loop); half subscribe, half unsubscribe.

    The first `warmup` seconds run at the same rate but are not recorded (connection pools
    filling, templates compiling).

    A request's latency runs from its scheduled moment, so time spent waiting for a free
    connection counts (no coordinated omission). The client is raw HTTP/1.1 over keep-alive
    connections: a full HTTP library costs more CPU than the server on this 2-core machine.
    """
    samples = {"subscribe": Samples(), "unsubscribe": Samples()}
    jobs: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while (job := await jobs.get()) is not None:
            i, scheduled = job
            kind, raw = request_bytes(i, port, unsubscribe)
            writer.write(raw)
            status = await read_response(reader)
            elapsed = time.perf_counter() - scheduled
            if i < skipped:
                continue
            if status == 200:
                samples[kind].latencies.append(elapsed)
            else:
                samples[kind].errors += 1
        writer.close()

    skipped = int(rate * warmup)
    workers = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    total = skipped + int(rate * seconds)
    start = time.perf_counter()
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        jobs.put_nowait((i, scheduled))
    for _ in workers:
        jobs.put_nowait(None)
    await asyncio.gather(*workers)
    return samples, time.perf_counter() - start - warmup


def request_bytes(i: int, port: int, unsubscribe: list[str]) -> tuple[str, bytes]:
    """Request `i`: even ones subscribe a new address, odd ones unsubscribe (one-click)."""
    if i % 2 == 0:
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        body = urlencode({"email": f"new{i}-{uuid.uuid4().hex[:6]}@bench.example"}).encode()
        path, extra, kind = "/subscribe", f"X-Forwarded-For: {ip}\r\n", "subscribe"
    else:
        body = b"List-Unsubscribe=One-Click"
        path, extra, kind = unsubscribe[i // 2], "", "unsubscribe"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return kind, head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response with a Content-Length body; return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        (
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length:")
        ),
        0,
    )
    await reader.readexactly(length)
    return int(lines[0].split(" ", 2)[1])


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="offered requests per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1, help="web processes")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds not recorded")
    args = parser.parse_args()

    name, database_url = create_database()
    queue = f"digest-bench-{uuid.uuid4().hex[:8]}"
    port = free_port()
    server = None
    try:
        upgrade(database_url)
        settings = bench_settings(database_url, port, queue)
        paths = unsubscribe_paths(
            database_url, settings, int(args.rate * (args.seconds + args.warmup)) // 2 + 1
        )
        server = serve(database_url, port, queue, args.workers)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("bench: the web server did not start")
            time.sleep(0.1)
        samples, wall = asyncio.run(load(port, args.rate, args.seconds, paths, args.warmup))
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        client.delete(queue)
        keys = list(client.scan_iter(f"digest:{queue}:*"))
        if keys:
            client.delete(*keys)
        client.close()
        drop_database(name)

    print(
        f"offered load {args.rate:.0f} req/s for {args.seconds:.0f} s, {args.workers} web "
        "process(es) (PostgreSQL, Redis)"
    )
    print(f"{'route':<22}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    everything: list[float] = []
    for kind, found in samples.items():
        everything += found.latencies
        print(
            f"{'POST /' + kind:<22}{len(found.latencies) / wall:>8.1f}"
            f"{percentile(found.latencies, 50) * 1000:>9.1f}"
            f"{percentile(found.latencies, 99) * 1000:>9.1f}{found.errors:>8}"
        )
    print(
        f"{'both':<22}{len(everything) / wall:>8.1f}{percentile(everything, 50) * 1000:>9.1f}"
        f"{percentile(everything, 99) * 1000:>9.1f}"
        f"{sum(s.errors for s in samples.values()):>8}"
    )


if __name__ == "__main__":
    main()
