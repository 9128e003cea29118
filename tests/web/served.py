"""`digest serve` as its own process, with the dashboard on, for tests that need its log,
its memory or its proxy settings as an operator runs it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import REDIS_URL, TEST_SECRET, free_port, run_digest
from tests.web.admin_support import ADMIN_HASH, ADMIN_USER

WRONG_LOGIN_LINE = "wrong dashboard credentials"


@dataclass(frozen=True)
class Served:
    url: str
    pid: int
    log: Path

    def log_lines(self, text: str) -> int:
        """How many lines of the server's log so far contain `text`."""
        return sum(text in line for line in self.log.read_text(errors="replace").splitlines())

    def rss_bytes(self) -> int:
        """The server process's resident memory, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS line")


@contextmanager
def digest_serve(
    folder: Path,
    *,
    attempts: int,
    extra_args: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
    redis_on: bool = True,
) -> Iterator[Served]:
    """`digest serve` on a free port over a fresh SQLite store, the dashboard's credential
    set (tests.web.admin_support) and `attempts` wrong logins allowed per client."""
    port = free_port()
    queue = f"test-admin-{uuid.uuid4().hex[:12]}"
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{folder / 'served.db'}",
        "DIGEST_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        # Nothing listens on the second: every counter is kept in the process.
        "DIGEST_REDIS_URL": REDIS_URL if redis_on else f"redis://127.0.0.1:{free_port()}/0",
        "DIGEST_TASK_QUEUE": queue,
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_BASE_URL": f"http://127.0.0.1:{port}",
        "DIGEST_ADMIN_USER": ADMIN_USER,
        "DIGEST_ADMIN_PASSWORD_HASH": ADMIN_HASH,
        "DIGEST_ADMIN_ATTEMPTS_PER_CLIENT": str(attempts),
        **(extra_env or {}),
    }
    assert run_digest(["db", "upgrade"], env, folder).returncode == 0
    log = folder / f"serve-{port}.log"
    command = [sys.executable, "-c", "from digest.cli import main; main()", "serve"]
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port), "--send-inline", *extra_args],
            # uvicorn's own variable, from whoever runs the tests, is no part of the test.
            env={**{k: v for k, v in os.environ.items() if k != "FORWARDED_ALLOW_IPS"}, **env},
            cwd=folder,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # starting takes long only on a loaded machine
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if server.poll() is not None:
                    pytest.fail(f"digest serve stopped: {log.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    pytest.fail("digest serve did not start")
                time.sleep(0.2)
        yield Served(url, server.pid, log)
    finally:
        server.terminate()
        server.wait(timeout=30)
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"digest:{queue}:*"))
        if keys:
            client.delete(*keys)
        client.close()


def burst(url: str, headers: list[dict[str, str]], path: str = "/admin") -> list[int]:
    """The statuses of one GET of `path` per headers, all sent at once."""

    async def send_all() -> list[int]:
        limits = httpx.Limits(max_connections=len(headers), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
            answers = await asyncio.gather(*(http.get(path, headers=h) for h in headers))
        return [answer.status_code for answer in answers]

    # A thread of its own: a browser test in this process may have left an event loop
    # running on this one (Playwright's sync API), where asyncio.run refuses to start.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, send_all()).result()
