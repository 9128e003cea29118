"""The dashboard's login limit under a burst, against `digest serve` as a process: at most
the limit's number of password checks per client whatever the concurrency, and the memory
of the checks bounded and given back."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.web.admin_support import ADMIN_USER, OPERATOR, basic
from tests.web.served import WRONG_LOGIN_LINE, burst, digest_serve

LIMIT = 10
WINDOW_SECONDS = 3600
MiB = 1024 * 1024


def wait_for_log(count: int, read: Callable[[], int], seconds: float = 5) -> None:
    """Give the server's log a moment to hold `count` lines (it is written as checks end)."""
    deadline = time.monotonic() + seconds
    while read() < count and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.parametrize("redis_on", [True, False], ids=["redis", "in-process"])
def test_a_burst_from_one_client_gets_at_most_the_limit_of_checks(
    tmp_path: Path, redis_on: bool
) -> None:
    wrong = [basic(ADMIN_USER, f"guess {i}") for i in range(99)]
    window = {"DIGEST_ADMIN_ATTEMPTS_WINDOW_SECONDS": str(WINDOW_SECONDS)}
    with digest_serve(tmp_path, attempts=LIMIT, redis_on=redis_on, extra_env=window) as served:
        started = time.time()
        statuses = burst(served.url, [*wrong[:50], OPERATOR, *wrong[50:]])
        time.sleep(1)  # a check the server still ran would log after its answer
        checked_wrong = served.log_lines(WRONG_LOGIN_LINE)
        with httpx.Client(base_url=served.url, timeout=10) as http:
            after = http.get("/admin", headers=OPERATOR).status_code
        ended = time.time()

    # The limit holds per fixed window: a burst on a loaded machine may straddle the edge
    # of one (rarely, with an hour's window), and each window then allows its own share.
    windows = int(ended // WINDOW_SECONDS - started // WINDOW_SECONDS) + 1
    answers = Counter(statuses)
    assert set(answers) <= {200, 401, 429}, answers
    assert checked_wrong <= LIMIT * windows, f"{checked_wrong} wrong passwords were checked"
    assert answers[401] == checked_wrong  # every wrong check answered, no other 401
    assert answers[200] <= 1
    assert answers[401] + answers[200] <= LIMIT * windows
    assert answers[429] >= 100 - LIMIT * windows
    if windows == 1:
        assert after == 429  # the client is locked out, the right password included


def test_right_logins_do_not_count_against_the_limit(tmp_path: Path) -> None:
    wrong = basic(ADMIN_USER, "nope")
    window = {"DIGEST_ADMIN_ATTEMPTS_WINDOW_SECONDS": str(WINDOW_SECONDS)}
    # The limit counts per fixed window: a run that straddles the edge of one (rarely, with
    # an hour's window) starts counting again, so it is run once more, on a fresh server.
    for attempt in range(2):
        folder = tmp_path / f"attempt-{attempt}"
        folder.mkdir()
        with (
            digest_serve(folder, attempts=3, extra_env=window) as served,
            httpx.Client(base_url=served.url, timeout=10) as http,
        ):
            started = time.time()
            answers = [http.get("/admin", headers=h).status_code for h in (wrong, wrong)]
            answers += [http.get("/admin", headers=OPERATOR).status_code for _ in range(5)]
            answers += [http.get("/admin", headers=wrong).status_code for _ in range(2)]
            answers.append(http.get("/admin", headers=OPERATOR).status_code)
            ended = time.time()
        if started // WINDOW_SECONDS == ended // WINDOW_SECONDS:
            break
    assert answers == [401, 401, 200, 200, 200, 200, 200, 401, 429, 429]


def test_memory_returns_to_its_level_after_a_burst_of_checks(tmp_path: Path) -> None:
    # A limit no burst reaches: only the bound on concurrent checks keeps memory down.
    with digest_serve(tmp_path, attempts=10_000) as served:
        # Warm up: the check threads exist and have done their work once.
        warm = burst(served.url, [basic(ADMIN_USER, f"warm {i}") for i in range(4)])
        assert set(warm) == {401}
        time.sleep(1)
        baseline = served.rss_bytes()
        statuses = burst(served.url, [basic(ADMIN_USER, f"burst {i}") for i in range(60)])
        wait_for_log(4 + Counter(statuses)[401], lambda: served.log_lines(WRONG_LOGIN_LINE))
        time.sleep(1)
        after = served.rss_bytes()
        with httpx.Client(base_url=served.url, timeout=10) as http:
            still_serves = http.get("/admin", headers=OPERATOR).status_code

    # Each check takes 16 MiB (n=2**14, r=8) while it runs; 60 at once took ~460 MiB for good.
    assert after - baseline < 64 * MiB, f"RSS {baseline / MiB:.0f} -> {after / MiB:.0f} MiB"
    assert set(statuses) <= {401, 503}, Counter(statuses)
    assert Counter(statuses)[401] >= 2
    assert still_serves == 200
