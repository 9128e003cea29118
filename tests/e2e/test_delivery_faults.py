"""Faults that must lose nothing and duplicate nothing, on the real parts: Celery workers
(processes) on Redis, PostgreSQL, and a real SMTP server that misbehaves on cue."""

from __future__ import annotations

import threading
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from celery import Celery
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from digest.settings import get_settings
from digest.store.db import Database
from digest.store.deliveries import uncertain_rows
from tests.conftest import POSTGRES_URL, REDIS_URL
from tests.e2e.harness import (
    CompressedBeat,
    ControlledSink,
    PrivateRedis,
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


def _celery(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Celery:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return make_celery()


def _assert_exactly_once(sink: ControlledSink, subscribers: int) -> None:
    assert len(sink.by_recipient) == subscribers, "somebody got nothing"
    duplicated = {rcpt: n for rcpt, n in sink.by_recipient.items() if n != 1}
    assert duplicated == {}, "somebody got the edition twice"


@pytest.mark.parametrize("window", [1, 8])
def test_a_worker_killed_mid_edition_is_replaced_without_loss_or_duplicate(
    monkeypatch: pytest.MonkeyPatch,
    store: Database,
    sink: ControlledSink,
    tmp_path: Path,
    window: int,
) -> None:
    subscribers = 2000
    seed(store, subscribers, TODAY)
    env = worker_env(
        store.url, REDIS_URL, sink.url,
        DIGEST_SEND_LEASE_SECONDS="5", DIGEST_SEND_BATCH_SIZE="100",
        DIGEST_SEND_WINDOW=str(window),
    )  # fmt: skip
    celery = _celery(monkeypatch, env)
    first = WorkerProcess(env, tmp_path / "worker.log")
    killed = threading.Event()

    def crash_at_700(number: int, recipient: str) -> str | None:
        # The worker dies while the server holds message 700 unanswered: it was not accepted.
        if number == 700 and not killed.is_set():
            first.kill()
            killed.set()
            return "421 4.3.0 the client went away"
        return None

    sink.before_accept = crash_at_700
    first.start()
    try:
        run_planner(celery)
        wait_for("the worker to be killed mid-edition", killed.is_set, timeout=180)
        assert 0 < sent_count(store) < subscribers
        second = WorkerProcess(env, tmp_path / "worker.log")
        second.start()
        with CompressedBeat(celery, every=2.0):
            wait_for("every subscriber", lambda: sent_count(store) == subscribers, timeout=300)
        second.stop()
    finally:
        first.kill()
        redis.Redis.from_url(env["DIGEST_BROKER_URL"]).delete(env["DIGEST_TASK_QUEUE"])
    assert len(sink.by_recipient) == subscribers, "somebody got nothing"
    twice = {rcpt for rcpt, n in sink.by_recipient.items() if n != 1}
    assert statuses(store) == {"sent": subscribers}
    # What the dead worker had in flight is one window: the messages the server accepted in
    # it since the last mark (sent again, with the same Message-ID), the one it held, and
    # those not reached yet. They, and only they, are counted as uncertain.
    assert len(twice) <= window - 1
    assert all(n <= 2 for n in sink.by_recipient.values())
    assert len(twice) + 1 <= uncertain_rows(store) <= window


def _terminate_connections(url: str) -> None:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": make_url(url).database},
        )
    admin.dispose()


def _sent_through_outages(store: Database) -> int:
    try:
        return sent_count(store)
    except OperationalError:  # this process's own connections were dropped too
        return -1


def test_the_database_dropping_every_connection_twice_mid_edition_loses_and_repeats_nothing(
    monkeypatch: pytest.MonkeyPatch, store: Database, sink: ControlledSink, tmp_path: Path
) -> None:
    subscribers = 2000
    seed(store, subscribers, TODAY)
    env = worker_env(
        store.url, REDIS_URL, sink.url,
        DIGEST_SEND_LEASE_SECONDS="5", DIGEST_SEND_BATCH_SIZE="100",
        DIGEST_SEND_JOURNAL=str(tmp_path / "journal.jsonl"),
    )  # fmt: skip
    celery = _celery(monkeypatch, env)
    dropped: list[int] = []

    def drop_while_holding(number: int, recipient: str) -> str | None:
        # The server has the message and is about to say 250: the worker's next step is the
        # mark, over a connection the database has just closed.
        if number in (600, 1400) and number not in dropped:
            dropped.append(number)
            _terminate_connections(store.url)
        return None

    sink.before_accept = drop_while_holding
    worker = WorkerProcess(env, tmp_path / "worker.log", concurrency=2)
    worker.start()
    try:
        with CompressedBeat(celery, every=2.0):
            wait_for(
                "every subscriber",
                lambda: _sent_through_outages(store) == subscribers,
                timeout=300,
            )
    finally:
        worker.stop()
        redis.Redis.from_url(env["DIGEST_BROKER_URL"]).delete(env["DIGEST_TASK_QUEUE"])
    assert dropped == [600, 1400]
    _assert_exactly_once(sink, subscribers)
    assert statuses(store) == {"sent": subscribers}
    assert uncertain_rows(store) == 0
    assert "connection lost while recording" in (tmp_path / "worker.log").read_text()


def test_dropped_connections_and_temporary_refusals_end_in_one_delivery_each(
    monkeypatch: pytest.MonkeyPatch, store: Database, sink: ControlledSink, tmp_path: Path
) -> None:
    subscribers = 1000
    seed(store, subscribers, TODAY)
    refused: set[str] = set()

    def greylist_five_percent(recipient: str) -> str | None:
        if zlib.crc32(recipient.encode()) % 20 == 0 and recipient not in refused:
            refused.add(recipient)
            return "451 4.7.1 greylisted, try again later"
        return None

    sink.on_rcpt = greylist_five_percent
    sink.drop_every = 100
    env = worker_env(
        store.url, REDIS_URL, sink.url,
        DIGEST_RETRY_BASE_SECONDS="1", DIGEST_RETRY_MAX_SECONDS="2",
    )  # fmt: skip
    celery = _celery(monkeypatch, env)
    worker = WorkerProcess(env, tmp_path / "worker.log", concurrency=2)
    worker.start()
    try:
        with CompressedBeat(celery, every=2.0):
            wait_for("every subscriber", lambda: sent_count(store) == subscribers, timeout=300)
    finally:
        worker.stop()
        redis.Redis.from_url(env["DIGEST_BROKER_URL"]).delete(env["DIGEST_TASK_QUEUE"])
    assert 30 <= len(refused) <= 80  # about 5% were refused once, then delivered
    _assert_exactly_once(sink, subscribers)
    assert statuses(store) == {"sent": subscribers}


def test_redis_restarted_mid_edition_the_edition_still_completes(
    monkeypatch: pytest.MonkeyPatch, store: Database, sink: ControlledSink, tmp_path: Path
) -> None:
    subscribers = 1000
    seed(store, subscribers, TODAY)
    broker = PrivateRedis()
    broker.start()
    restarted = threading.Event()

    def restart_redis_at_300(number: int, recipient: str) -> str | None:
        if number == 300 and not restarted.is_set():
            restarted.set()
            broker.stop()  # everything queued in it is lost: it keeps nothing on disk

            def come_back() -> None:
                time.sleep(3)
                broker.start()

            threading.Thread(target=come_back, daemon=True).start()
        return None

    sink.before_accept = restart_redis_at_300
    env = worker_env(store.url, broker.url, sink.url, DIGEST_SEND_BATCH_SIZE="50")
    celery = _celery(monkeypatch, env)
    worker = WorkerProcess(env, tmp_path / "worker.log")
    worker.start()
    try:
        run_planner(celery)
        wait_for("the Redis restart", restarted.is_set, timeout=180)
        with CompressedBeat(celery, every=2.0):
            wait_for("every subscriber", lambda: sent_count(store) == subscribers, timeout=300)
    finally:
        worker.stop()
        broker.stop()
    _assert_exactly_once(sink, subscribers)


def test_two_planners_at_once_duplicate_nothing(
    monkeypatch: pytest.MonkeyPatch, store: Database, sink: ControlledSink, tmp_path: Path
) -> None:
    subscribers = 500
    seed(store, subscribers, TODAY)
    env = worker_env(store.url, REDIS_URL, sink.url, DIGEST_SEND_BATCH_SIZE="25")
    celery = _celery(monkeypatch, env)
    workers = [WorkerProcess(env, tmp_path / "worker.log", concurrency=2) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(2):  # two beat processes by mistake, firing together
            run_planner(celery)
        wait_for("every subscriber", lambda: sent_count(store) == subscribers, timeout=300)
        time.sleep(3)  # let any duplicate task run to the end
    finally:
        for worker in workers:
            worker.stop()
        redis.Redis.from_url(env["DIGEST_BROKER_URL"]).delete(env["DIGEST_TASK_QUEUE"])
    _assert_exactly_once(sink, subscribers)


def test_the_send_rate_is_shared_by_all_workers(
    monkeypatch: pytest.MonkeyPatch, store: Database, sink: ControlledSink, tmp_path: Path
) -> None:
    subscribers = 60
    seed(store, subscribers, TODAY)
    moments: list[float] = []

    def note_time(number: int, recipient: str) -> str | None:
        moments.append(time.monotonic())
        return None

    sink.before_accept = note_time
    env = worker_env(
        store.url, REDIS_URL, sink.url,
        DIGEST_SEND_RATE_PER_SECOND="20", DIGEST_SEND_BATCH_SIZE="10",
    )  # fmt: skip
    redis.Redis.from_url(REDIS_URL).delete("digest:send-rate")
    celery = _celery(monkeypatch, env)
    workers = [WorkerProcess(env, tmp_path / "worker.log", concurrency=2) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        run_planner(celery)
        wait_for("every subscriber", lambda: sent_count(store) == subscribers, timeout=120)
    finally:
        for worker in workers:
            worker.stop()
        redis.Redis.from_url(env["DIGEST_BROKER_URL"]).delete(env["DIGEST_TASK_QUEUE"])
    # Four worker processes, one limit: 60 messages at 20/s take about 3 s, not 0.75 s.
    assert moments[-1] - moments[0] >= (subscribers - 1) / 20 * 0.9
    _assert_exactly_once(sink, subscribers)
