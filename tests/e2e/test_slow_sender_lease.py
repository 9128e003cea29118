"""A `digest send` that runs longer than its lease, beside a second sender: a throttled
relay (20 ms a message), a 5 s lease, and a second `digest send` (or a Celery worker) that
starts once the first has run past its lease. The first renews what it holds, so every
address gets exactly one message and no live sender's row is ever claimable."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from digest.settings import get_settings
from digest.store.db import Database
from digest.store.models import Delivery, DeliveryStatus
from tests.cli.command import DIGEST, clean_environment
from tests.conftest import REDIS_URL
from tests.e2e.harness import (
    ControlledSink,
    WorkerProcess,
    run_planner,
    seed,
    sent_count,
    statuses,
    wait_for,
    worker_env,
)
from workers.app import make_celery

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
READERS = 600
LEASE_SECONDS = 5  # the shortest allowed; the first sender's run lasts well past it
RELAY_SECONDS = 0.02  # a throttled relay: 600 messages take 12 s at least


@pytest.fixture
def slow_relay() -> Iterator[ControlledSink]:
    server = ControlledSink()

    def throttle(number: int, recipient: str) -> str | None:
        time.sleep(RELAY_SECONDS)  # blocks the server's loop: one message at a time
        return None

    server.before_accept = throttle
    server.start()
    yield server
    server.stop()


class ExpiredWhileHeld:
    """Samples, while the first sender lives, how many rows it holds with a lease already in
    the past (claimable by anyone): the drill saw up to 140."""

    def __init__(self, db: Database, sender: subprocess.Popen[bytes]) -> None:
        self.db = db
        self.sender = sender
        self.most = 0
        self.samples = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while self.sender.poll() is None:
            with self.db.session() as session:
                expired = session.scalar(
                    select(func.count()).where(
                        Delivery.status == DeliveryStatus.CLAIMED,
                        Delivery.lease_until < func.now(),
                    )
                )
            self.most = max(self.most, int(expired or 0))
            self.samples += 1
            time.sleep(0.1)

    def __enter__(self) -> ExpiredWhileHeld:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(timeout=30)


def _env(store: Database, relay: ControlledSink) -> dict[str, str]:
    return worker_env(
        store.url, REDIS_URL, relay.url,
        DIGEST_SEND_LEASE_SECONDS=str(LEASE_SECONDS), DIGEST_SEND_BATCH_SIZE="50",
    )  # fmt: skip


def _first_sender(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(DIGEST), "send", "--day", TODAY.date().isoformat()],
        env=clean_environment(env),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _past_its_lease(relay: ControlledSink) -> None:
    """Wait until the first sender has been sending for longer than its lease (the drill's
    moment), however long the process took to start on a busy machine."""
    wait_for("the first message", lambda: relay.accepted > 0, timeout=120)
    time.sleep(LEASE_SECONDS + 1.5)


def _assert_one_each(relay: ControlledSink, store: Database) -> None:
    twice = {rcpt: n for rcpt, n in relay.by_recipient.items() if n != 1}
    assert twice == {}, f"{len(twice)} subscribers got the digest more than once"
    assert sorted(relay.by_recipient) == [f"reader{i:05d}@example.org" for i in range(READERS)]
    assert statuses(store) == {"sent": READERS}


def _finished_spread_seconds(store: Database) -> float:
    with store.session() as session:
        first, last = session.execute(
            select(func.min(Delivery.finished_at), func.max(Delivery.finished_at))
        ).one()
    assert first is not None and last is not None
    return float((last - first).total_seconds())


def test_a_send_longer_than_its_lease_beside_a_second_send_mails_each_address_once(
    store: Database, slow_relay: ControlledSink, tmp_path: Path
) -> None:
    seed(store, READERS, TODAY)
    env = _env(store, slow_relay)
    started = time.monotonic()
    first = _first_sender(env, tmp_path)
    with ExpiredWhileHeld(store, first) as watch:
        _past_its_lease(slow_relay)
        assert first.poll() is None, "the first sender finished before its lease ran out"
        assert 0 < slow_relay.accepted < READERS
        second = _first_sender(env, tmp_path)
        _, second_errors = second.communicate(timeout=300)
        _, first_errors = first.communicate(timeout=300)
    assert (first.returncode, second.returncode) == (0, 0), first_errors + second_errors
    assert time.monotonic() - started > LEASE_SECONDS * 2
    _assert_one_each(slow_relay, store)
    assert watch.samples > 10
    assert watch.most == 0, "a live sender held rows whose lease had already run out"
    # Each row's finished_at is when its message went out, not when the run started.
    assert _finished_spread_seconds(store) > LEASE_SECONDS


def test_a_send_longer_than_its_lease_beside_celery_workers_mails_each_address_once(
    monkeypatch: pytest.MonkeyPatch,
    store: Database,
    slow_relay: ControlledSink,
    tmp_path: Path,
) -> None:
    seed(store, READERS, TODAY)
    env = _env(store, slow_relay)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    celery = make_celery()
    worker = WorkerProcess(env, tmp_path / "worker.log", concurrency=2)
    first = _first_sender(env, tmp_path)
    try:
        with ExpiredWhileHeld(store, first) as watch:
            _past_its_lease(slow_relay)
            assert first.poll() is None, "the first sender finished before its lease ran out"
            worker.start()
            run_planner(celery)  # beat's run: a send task per batch of claimable rows
            _, first_errors = first.communicate(timeout=300)
            wait_for("every subscriber", lambda: sent_count(store) == READERS, timeout=120)
        # Tasks still queued or running finish with nothing left to claim.
        time.sleep(1.0)
    finally:
        worker.stop()
        redis.Redis.from_url(env["DIGEST_BROKER_URL"]).delete(env["DIGEST_TASK_QUEUE"])
        get_settings.cache_clear()
    assert first.returncode == 0, first_errors
    _assert_one_each(slow_relay, store)
    assert watch.most == 0, "a live sender held rows whose lease had already run out"
