"""arXiv's one-request-every-N-seconds rule across processes, through a real Redis."""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import time
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
import redis

from digest.errors import SourceError
from digest.settings import Settings
from digest.sources.arxiv import ArxivByCategory
from digest.sources.base import collect
from digest.sources.http import polite_http
from digest.sources.politeness import LocalGate, RedisGate, arxiv_gate
from tests.conftest import REDIS_URL, TEST_SECRET, free_port
from tests.sources.support import Answer, local_server, payload

INTERVAL = 0.3


@pytest.fixture
def key() -> Iterator[str]:
    name = f"digest:test:arxiv:{uuid.uuid4().hex}"
    yield name
    redis.Redis.from_url(REDIS_URL).delete(name)


def take_turns(key: str, turns: int, results: multiprocessing.Queue[tuple[float, float]]) -> None:
    """One worker process: `turns` requests, each a short hold of the shared turn."""
    gate = RedisGate(redis.Redis.from_url(REDIS_URL), key, INTERVAL)
    for _ in range(turns):
        with gate.turn():
            began = time.time()
            time.sleep(0.02)  # the request
            results.put((began, time.time()))


def test_workers_in_separate_processes_take_turns_spaced_by_the_interval(key: str) -> None:
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[tuple[float, float]] = context.Queue()
    workers = [context.Process(target=take_turns, args=(key, 3, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    spans = sorted(results.get(timeout=5) for _ in range(9))

    assert all(worker.exitcode == 0 for worker in workers)
    gaps = [later[0] - earlier[1] for earlier, later in itertools.pairwise(spans)]
    # Never two at once, and each starts at least the interval after the previous ended.
    assert min(gaps) >= INTERVAL - 0.02, gaps


def test_a_crashed_holder_blocks_others_only_until_its_hold_expires(key: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    client.set(key, "a worker that died", px=400)
    gate = RedisGate(client, key, INTERVAL)

    started = time.monotonic()
    with gate.turn():
        waited = time.monotonic() - started

    assert 0.3 <= waited < 2


def test_waiting_too_long_for_a_turn_is_a_clear_error(key: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    client.set(key, "a slow worker", px=5000)
    gate = RedisGate(client, key, INTERVAL, wait_seconds=0.2)

    with pytest.raises(SourceError, match=r"waited 0\.2 s for our turn"), gate.turn():
        pass


def test_without_redis_the_rule_holds_within_the_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="digest.sources.politeness"):
        gate = arxiv_gate(f"redis://:secret@127.0.0.1:{free_port()}/0", 0.2, 10)

    assert "unreachable" in caplog.text and "secret" not in caplog.text
    ends: list[float] = []
    starts: list[float] = []
    for _ in range(2):
        with gate():
            starts.append(time.monotonic())
        ends.append(time.monotonic())
    assert starts[1] - ends[0] >= 0.19
    assert isinstance(LocalGate(0.2), LocalGate)


def test_arxiv_over_a_real_server_spaces_its_requests(key: str) -> None:
    settings = Settings(secret_key=TEST_SECRET, contact="ops@example.org")

    def route(path: str, headers: dict[str, str]) -> Answer:
        start = "0" if "start=0" in path else "2"
        name = "arxiv_query_page1.xml" if start == "0" else "arxiv_query_page2.xml"
        return Answer(body=payload(name), content_type="application/atom+xml")

    with local_server(route) as server:
        gate = RedisGate(redis.Redis.from_url(REDIS_URL), key, INTERVAL)
        source = ArxivByCategory(
            polite_http(settings.sources),
            server.url,
            server.url,
            ["cs.CL"],
            gate=gate.turn,
            page_size=2,
            today=lambda: date(2026, 11, 25),
        )
        started = time.monotonic()
        result = collect(source, date(2026, 11, 18))
        took = time.monotonic() - started

    assert len(result.papers) == 3
    assert len(server.requests) == 2
    assert server.requests[0][1]["user-agent"].endswith("ops@example.org)")
    assert took >= INTERVAL  # the second page waited its turn
