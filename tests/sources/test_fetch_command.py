"""`digest fetch` as an operator runs it: one day, a backfill, and a source that fails."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from digest.store.db import Database
from digest.store.models import FetchRun, Paper
from tests.conftest import TEST_SECRET
from tests.conftest import run_digest as digest
from tests.sources.support import Answer, local_server


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
