"""Abuse limits on POST /subscribe: Redis-backed per-IP and per-address limits, the honeypot."""

from __future__ import annotations

import logging

import pytest
import redis
from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.web import create_app
from digest.web.request_limits import Limit, RateLimiter
from tests.conftest import REDIS_URL
from tests.web.conftest import Recorder
from tests.web.support import find_subscriber, subscribe, subscriber_count, without_nonce


def client_from(app_settings: Settings, db: Database, enqueued: Recorder, ip: str) -> TestClient:
    return TestClient(
        create_app(app_settings, db, enqueued.kick_for(db, app_settings)), client=(ip, 40000)
    )


def test_hundreds_of_requests_from_one_ip_are_cut_off(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings, enqueued: Recorder
) -> None:
    answers = [subscribe(sqlite_client, f"flood{i}@example.com").status_code for i in range(300)]

    limit = settings.subscribe_limit_per_ip
    assert answers[:limit] == [200] * limit
    assert answers[limit:] == [429] * (300 - limit)
    assert subscriber_count(sqlite_db) == limit
    assert len(enqueued) == limit
    refused = subscribe(sqlite_client, "late@example.com")
    assert "Too many requests" in refused.text
    assert refused.headers["retry-after"] == str(settings.rate_limit_window_seconds)


def test_limit_is_shared_across_app_instances(
    sqlite_db: Database, settings: Settings, enqueued: Recorder
) -> None:
    # Two app objects stand for two web processes: only Redis connects them.
    first = client_from(settings, sqlite_db, enqueued, "203.0.113.7")
    second = client_from(settings, sqlite_db, enqueued, "203.0.113.7")
    limit = settings.subscribe_limit_per_ip
    with first, second:
        codes = [
            subscribe(first if i % 2 else second, f"shared{i}@example.com").status_code
            for i in range(limit + 5)
        ]
        other_ip = client_from(settings, sqlite_db, enqueued, "198.51.100.9")
        with other_ip:
            elsewhere = subscribe(other_ip, "elsewhere@example.com")

    assert codes.count(200) == limit
    assert codes.count(429) == 5
    assert elsewhere.status_code == 200


def test_one_address_from_many_ips_is_cut_off(
    sqlite_db: Database, settings: Settings, enqueued: Recorder
) -> None:
    codes = []
    for i in range(settings.subscribe_limit_per_address + 3):
        with client_from(settings, sqlite_db, enqueued, f"192.0.2.{i + 1}") as client:
            codes.append(subscribe(client, "Target@Example.com").status_code)

    allowed = settings.subscribe_limit_per_address
    assert codes == [200] * allowed + [429] * 3
    assert len(enqueued) == 1  # and the 10-minute rule sent one confirmation among them


def test_redis_keeps_no_address_or_ip_in_clear(
    sqlite_client: TestClient, settings: Settings
) -> None:
    subscribe(sqlite_client, "private@example.com")

    client = redis.Redis.from_url(REDIS_URL)
    keys = [k.decode() for k in client.scan_iter(f"digest:{settings.task_queue}:*")]
    client.close()
    assert len(keys) == 2
    assert not any("private" in key or "testclient" in key for key in keys)


def test_redis_down_counts_in_the_process_with_one_warning(
    sqlite_db: Database,
    settings: Settings,
    enqueued: Recorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    caplog.set_level(logging.WARNING, logger="digest")
    with TestClient(create_app(down, sqlite_db, enqueued.kick_for(sqlite_db, down))) as client:
        codes = [subscribe(client, f"open{i}@example.com").status_code for i in range(3)]

    assert codes == [200, 200, 200]
    assert len(enqueued) == 3
    warnings = [r.getMessage() for r in caplog.records if r.name == "digest.web.request_limits"]
    assert warnings == ["rate limits counted in this process, Redis unavailable: ConnectionError"]


def test_with_redis_down_the_limits_still_hold(sqlite_db: Database, settings: Settings) -> None:
    down = settings.model_copy(
        update={"redis_url": "redis://127.0.0.1:1/0", "subscribe_limit_per_address": 2}
    )
    with TestClient(create_app(down, sqlite_db, lambda: None)) as client:
        codes = [subscribe(client, "same@example.com").status_code for _ in range(4)]

    assert codes == [200, 200, 429, 429]


def test_without_redis_the_limiter_counts_in_the_process_window_by_window() -> None:
    limiter = RateLimiter("amqp://guest@localhost//", "digest:test")
    one = [("bucket", "key", Limit(1, 60))]

    assert [limiter.allow(one, now=600.0 + i) for i in range(3)] == [True, False, False]
    assert limiter.allow([("bucket", "other", Limit(1, 60))], now=603.0)
    assert limiter.allow(one, now=660.0)  # the next window


def test_honeypot_gets_the_same_page_and_nothing_happens(
    sqlite_db: Database, sqlite_client: TestClient, enqueued: Recorder
) -> None:
    normal = subscribe(sqlite_client, "human@example.com")
    bot = subscribe(sqlite_client, "bot@example.com", website="http://spam.example")

    assert bot.status_code == 200
    assert without_nonce(bot.text) == without_nonce(normal.text)
    assert find_subscriber(sqlite_db, "bot@example.com") is None
    assert len(enqueued) == 1


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("用户@例子.广告", "用户@例子.广告"),
        ("José.Núñez@Example.COM", "josé.núñez@example.com"),
        ("  Foo@Example.com ", "foo@example.com"),
    ],
)
def test_internationalised_addresses_are_accepted_and_normalised(
    sqlite_db: Database, sqlite_client: TestClient, typed: str, stored: str
) -> None:
    response = subscribe(sqlite_client, typed)

    assert response.status_code == 200
    assert find_subscriber(sqlite_db, stored) is not None


def test_two_spellings_of_one_address_are_one_subscriber(
    sqlite_db: Database, sqlite_client: TestClient, enqueued: Recorder
) -> None:
    subscribe(sqlite_client, "Foo@Example.com")
    subscribe(sqlite_client, "foo@example.com")

    assert subscriber_count(sqlite_db) == 1
    assert len(enqueued) == 1
