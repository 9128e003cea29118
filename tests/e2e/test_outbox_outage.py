"""A Redis outage while people subscribe, on the production configuration: the web asks
a Celery worker to send each confirmation and sends it itself when the broker is gone.

Every POST gets the normal page, and every confirmation arrives exactly once."""

from __future__ import annotations

import time
from pathlib import Path

from celery import Celery
from starlette.testclient import TestClient

from digest.pipeline.notices import LocalOutbox
from digest.settings import Settings
from digest.store.db import Database
from digest.store.migrate import upgrade
from digest.web import create_app
from tests.conftest import TEST_SECRET, SmtpSink, reset_schema
from tests.e2e.harness import PrivateRedis, WorkerProcess, wait_for, worker_env
from workers.dispatch import celery_kick

ADDRESSES = [f"signup{i}@example.org" for i in range(6)]


def _celery(broker_url: str, queue: str) -> Celery:
    app = Celery("digest-test", broker=broker_url)
    app.conf.update(
        task_default_queue=queue,
        broker_connection_retry_on_startup=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
    )
    return app


def test_signups_during_a_redis_outage_each_get_one_confirmation(
    postgres_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    redis = PrivateRedis()
    redis.start()
    env = worker_env(postgres_url, redis.url, smtp_sink.url, DIGEST_REDIS_URL=redis.url)
    db = Database(postgres_url)
    reset_schema(db)
    upgrade(postgres_url)
    settings = Settings(
        database_url=postgres_url,
        broker_url=redis.url,
        redis_url=redis.url,
        mail_url=smtp_sink.url,
        secret_key=TEST_SECRET,
        base_url="https://digest.example.org",
        task_queue=env["DIGEST_TASK_QUEUE"],
    )
    worker = WorkerProcess(env, tmp_path / "worker.log")
    worker.start()
    outbox = LocalOutbox(db, settings, interval=2.0)
    kick = celery_kick(_celery(redis.url, env["DIGEST_TASK_QUEUE"]), fallback=outbox.kick)
    try:
        with TestClient(create_app(settings, db, kick, outbox=outbox)) as client:

            def signup(address: str) -> None:
                page = client.post("/subscribe", data={"email": address, "timezone": "UTC"})
                assert page.status_code == 200 and "Check your inbox" in page.text

            signup(ADDRESSES[0])
            redis.stop()
            for address in ADDRESSES[1:5]:
                signup(address)
            redis.start()  # the same port: the worker reconnects
            signup(ADDRESSES[5])

            wait_for(
                "every confirmation",
                lambda: all(smtp_sink.messages_to(a) for a in ADDRESSES),
                timeout=60,
            )
            time.sleep(5)  # sweeps by the web and the worker: nothing may come twice
        assert {a: len(smtp_sink.messages_to(a)) for a in ADDRESSES} == dict.fromkeys(ADDRESSES, 1)
    finally:
        worker.stop()
        redis.stop()
        reset_schema(db)
        db.dispose()
