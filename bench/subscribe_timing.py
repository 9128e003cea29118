"""Does POST /subscribe take the same time whatever the address's state?

    .venv/bin/python -m bench.subscribe_timing [--requests 200]

Runs `digest serve` (one process, on loopback) over a fresh PostgreSQL database holding
addresses in every state: new, pending, active, unsubscribed, bounced, complained and
deleted (suppressed). Sends `--requests` subscribe requests per state, one at a time and
interleaved (new, pending, ..., new, pending, ...), so drift in the machine's load falls on
every state alike, and does it in two rounds. Reports each state's median latency per
round: the spread between rounds of one state is the run-to-run noise that differences
between states must be compared with. The outbox sender does not run meanwhile (kicks go
to a Celery queue nobody reads, the sweep is an hour away): what it does later, and
differently per state, is not what a visitor can time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid

import httpx
import redis

from bench.support import REDIS_URL, create_database, drop_database, free_port
from digest.store.db import Database
from digest.store.migrate import upgrade
from digest.store.models import Subscriber, SubscriberState
from digest.store.suppression import suppress

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
STATES = ["new", "pending", "active", "unsubscribed", "bounced", "complained", "deleted"]


def seed(database_url: str, count: int) -> None:
    db = Database(database_url)
    with db.session() as session:
        for state in STATES:
            for i in range(2 * count):
                email = f"{state}{i}@bench.example"
                if state == "deleted":
                    suppress(session, email)
                elif state != "new":
                    session.add(Subscriber(email=email, state=SubscriberState(state)))
    db.dispose()


def serve(database_url: str, port: int, queue: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_BROKER_URL": REDIS_URL,
        "DIGEST_TASK_QUEUE": queue,
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_BASE_URL": f"http://127.0.0.1:{port}",
        "DIGEST_SUBSCRIBE_LIMIT_PER_IP": "1000000",
        "DIGEST_SUBSCRIBE_LIMIT_PER_ADDRESS": "1000000",
        "DIGEST_OUTBOX_SWEEP_SECONDS": "3600",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from digest.cli import main; main()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_until_up(client: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            client.get("/healthz")
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise SystemExit("digest serve did not start") from None
            time.sleep(0.2)


def measure(client: httpx.Client, count: int, offset: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {state: [] for state in STATES}
    for i in range(count):
        for state in STATES:
            email = f"{state}{offset + i}@bench.example"
            started = time.perf_counter()
            response = client.post("/subscribe", data={"email": email, "timezone": "UTC"})
            timings[state].append(time.perf_counter() - started)
            if response.status_code != 200 or "Check your inbox" not in response.text:
                raise SystemExit(f"{state}: unexpected answer {response.status_code}")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="per state and round")
    args = parser.parse_args()
    name, database_url = create_database()
    queue = f"bench-timing-{uuid.uuid4().hex[:8]}"
    port = free_port()
    server = None
    try:
        upgrade(database_url)
        seed(database_url, args.requests)
        server = serve(database_url, port, queue)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            wait_until_up(client)
            measure(client, 20, 10 * args.requests)  # warm-up, not reported
            rounds = [measure(client, args.requests, r * args.requests) for r in (0, 1)]
        report(rounds)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        redis.Redis.from_url(REDIS_URL).delete(queue)
        drop_database(name)


def report(rounds: list[dict[str, list[float]]]) -> None:
    medians = {s: [statistics.median(r[s]) * 1000 for r in rounds] for s in STATES}
    overall = {s: statistics.median(rounds[0][s] + rounds[1][s]) * 1000 for s in STATES}
    noise = max(abs(a - b) for a, b in medians.values())
    print(f"{'state':<14}{'median ms':>11}{'round 1':>10}{'round 2':>10}")
    for state in STATES:
        first, second = medians[state]
        print(f"{state:<14}{overall[state]:>11.2f}{first:>10.2f}{second:>10.2f}")
    spread = max(overall.values()) - min(overall.values())
    print(f"spread between states {spread:.2f} ms; run-to-run noise (largest round gap) "
          f"{noise:.2f} ms; {'within' if spread <= noise else 'OUTSIDE'} the noise")  # fmt: skip


if __name__ == "__main__":
    main()
