"""`digest fetch` as an operator runs it: one day, a backfill, and a source that fails."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from digest.store.db import Database
from digest.store.models import FetchRun, Paper
from tests.conftest import TEST_SECRET, reset_schema
from tests.conftest import run_digest as digest
from tests.sources.hostile import (
    GOOD_HF,
    GOOD_RSS,
    HF_CASES,
    all_hf_cases_page,
    rss_item,
    rss_page,
)
from tests.sources.support import Answer, local_server
from tests.sources.test_hostile import BILLION_LAUGHS


def daily(path: str, headers: dict[str, str]) -> Answer:
    """One paper a day, except a broken 2026-11-19."""
    day = path.split("date=")[1][:10]
    if day == "2026-11-19":
        return Answer(status=500, body=b"oops", content_type="text/plain")
    number = day[-2:]
    items = [{"paper": {"id": f"2611.000{number}", "title": f"Paper of {day}", "upvotes": 1}}]
    return Answer(body=json.dumps(items).encode())


def test_backfill_fetches_every_day_and_reports_the_broken_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fetch.db'}"
    with local_server(daily) as server:
        env = {
            "DIGEST_DATABASE_URL": url,
            "DIGEST_SECRET_KEY": TEST_SECRET,
            "DIGEST_HF_API_URL": server.url,
            "DIGEST_HTTP_RETRIES": "1",
            "DIGEST_HTTP_BACKOFF_SECONDS": "0",
        }
        assert digest(["db", "upgrade"], env, tmp_path).returncode == 0
        one = digest(["fetch", "--date", "2026-11-18"], env, tmp_path)
        many = digest(["fetch", "--since", "2026-11-18", "--date", "2026-11-20"], env, tmp_path)
        backwards = digest(
            ["fetch", "--since", "2026-11-21", "--date", "2026-11-20"], env, tmp_path
        )

    assert one.returncode == 0, one.stderr
    assert "hf 2026-11-18: 1 seen, 1 new, 0 updated, 0 skipped" in one.stdout
    assert many.returncode == 1
    assert "hf 2026-11-18..2026-11-20: 2 seen, 1 new, 1 updated" in many.stdout
    # Logged warnings come first; the last line is the one-line verdict, with no traceback.
    line = many.stderr.strip().splitlines()[-1]
    assert "Traceback" not in many.stderr
    assert line.startswith("digest: fetch from hf incomplete: ") and "HTTP 500" in line
    assert backwards.returncode == 1 and "after the last day" in backwards.stderr

    database = Database(url)
    with database.session() as session:
        titles = sorted(session.scalars(select(Paper.title)))
        windows = [
            (r.window_start.isoformat(), r.window_end.isoformat(), r.error is None)
            for r in session.scalars(select(FetchRun).order_by(FetchRun.id))
        ]
    database.dispose()
    assert titles == ["Paper of 2026-11-18", "Paper of 2026-11-20"]
    assert windows == [
        ("2026-11-18", "2026-11-18", True),
        ("2026-11-18", "2026-11-20", False),
    ]


def stored_ids(url: str) -> set[str]:
    database = Database(url)
    with database.session() as session:
        ids = set(session.scalars(select(Paper.arxiv_id)))
    database.dispose()
    return ids


def test_fetch_stores_the_good_papers_of_a_page_with_hostile_items(
    database_url: str, tmp_path: Path
) -> None:
    kept = [case for case in HF_CASES if case.expected is not None]
    refused = [case for case in HF_CASES if case.expected is None]
    database = Database(database_url)
    reset_schema(database)  # the PostgreSQL database is shared by the session's tests
    try:
        with local_server(Answer(body=all_hf_cases_page())) as server:
            env = {
                "DIGEST_DATABASE_URL": database_url,
                "DIGEST_SECRET_KEY": TEST_SECRET,
                "DIGEST_HF_API_URL": server.url,
                "DIGEST_HTTP_RETRIES": "1",
            }
            assert digest(["db", "upgrade"], env, tmp_path).returncode == 0
            result = digest(["fetch", "--date", "2026-11-20"], env, tmp_path)

        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        seen = len(GOOD_HF) + len(kept)
        assert f"hf 2026-11-20: {seen} seen, {seen} new, 0 updated, {len(refused)} skipped" in (
            result.stdout
        )
        long_title = next(n for n, case in enumerate(HF_CASES) if case.name == "over-long title")
        skip = (
            f"  skipped 2611.{9100 + long_title:05d}: title is 5000 characters long (at most 1000)"
        )
        assert skip in result.stdout
        ids = stored_ids(database_url)
        assert set(GOOD_HF) <= ids and len(ids) == seen
    finally:
        reset_schema(database)
        database.dispose()


def test_fetch_from_arxiv_skips_a_hostile_entry_and_refuses_a_bomb(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'arxiv.db'}"
    hostile = rss_item("2611.10950", title="NUL &#0; " + "T" * 5000, dc__creator="Bo\x01 Chen")
    feeds = {
        "/rss/cs.CL": rss_page(hostile, rss_item("2611.10951", title="bell\x07 &#xD800;ok")),
        "/rss/cs.LG": rss_page(prolog="<!-- first -->" + BILLION_LAUGHS),
    }

    def route(path: str, headers: dict[str, str]) -> Answer:
        return Answer(body=feeds[path], content_type="application/rss+xml")

    with local_server(route) as server:
        env = {
            "DIGEST_DATABASE_URL": url,
            "DIGEST_SECRET_KEY": TEST_SECRET,
            "DIGEST_ARXIV_RSS_URL": server.url,
            "DIGEST_ARXIV_INTERVAL_SECONDS": "0",
            "DIGEST_ARXIV_LOCK_URL": "redis://127.0.0.1:1/0",  # none: the in-process rule
            "DIGEST_HTTP_RETRIES": "1",
        }
        assert digest(["db", "upgrade"], env, tmp_path).returncode == 0
        good = digest(
            ["fetch", "--source", "arxiv"],
            {**env, "DIGEST_ARXIV_DEFAULT_CATEGORIES": "cs.CL"},
            tmp_path,
        )
        bomb = digest(
            ["fetch", "--source", "arxiv"],
            {**env, "DIGEST_ARXIV_DEFAULT_CATEGORIES": "cs.LG"},
            tmp_path,
        )

    assert good.returncode == 0, good.stderr
    assert "1 skipped" in good.stdout and "title is" in good.stdout
    assert stored_ids(url) == {*GOOD_RSS, "2611.10951"}
    assert bomb.returncode == 1 and "Traceback" not in bomb.stderr
    line = bomb.stderr.strip().splitlines()[-1]
    assert line.startswith("digest: fetch from arxiv incomplete: ")
    assert "declares a DTD or entities" in line
