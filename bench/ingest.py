"""Ingestion throughput and memory: synthetic Hugging Face pages through the real pipeline.

Each size runs in a fresh process: paging, JSON parsing, normalisation and the page-by-page
upsert into SQLite. Memory is the growth of the process's peak RSS over its RSS before the
run, so a pipeline that streams shows the same figure for 5,000 items as for 50,000.

    .venv/bin/python -m bench.ingest --items 50000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

ITEMS_PER_DAY = 1_000
PAGE_SIZE = 100
FIRST_DAY = date(2026, 1, 1)


def synthetic_page(day: date, page: int, total_days: int, last_day_items: int) -> bytes:
    """One page of daily-papers items, made on request (nothing is kept between pages)."""
    index = (day - FIRST_DAY).days
    on_day = ITEMS_PER_DAY if index < total_days - 1 else last_day_items
    first = page * PAGE_SIZE
    items = [
        {
            "paper": {
                "id": _arxiv_id(index * ITEMS_PER_DAY + n),
                "title": f"Synthetic  paper {index}-{n} with $\\alpha$-terms",
                "summary": "An abstract of a few sentences. " * 8,
                "authors": [{"name": f"Author {k}"} for k in range(4)],
                "publishedAt": f"{day.isoformat()}T00:00:00.000Z",
                "submittedOnDailyAt": f"{day.isoformat()}T00:00:00.000Z",
                "upvotes": n % 97,
                "githubRepo": f"https://github.com/example/repo-{n}",
                "githubStars": n,
                "ai_keywords": ["synthetic", "benchmark"],
            },
            "numComments": n % 7,
        }
        for n in range(first, min(first + PAGE_SIZE, on_day))
    ]
    return json.dumps(items).encode()


def _arxiv_id(number: int) -> str:
    month, serial = divmod(number, 99_999)
    return f"26{month + 1:02d}.{serial + 1:05d}"


def run_one(items: int) -> dict[str, float]:
    """Ingest `items` synthetic papers into a fresh SQLite store; speed and memory growth."""
    from digest.pipeline.fetch import fetch_window
    from digest.sources.hf import HuggingFaceDailyPapers
    from digest.sources.http import PoliteHttp
    from digest.store.db import Database
    from digest.store.models import Base

    days = -(-items // ITEMS_PER_DAY)
    last_day_items = items - (days - 1) * ITEMS_PER_DAY

    def handler(request: httpx.Request) -> httpx.Response:
        day = date.fromisoformat(request.url.params["date"])
        page = int(request.url.params["p"])
        return httpx.Response(200, content=synthetic_page(day, page, days, last_day_items))

    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'bench.db'}")
        Base.metadata.create_all(db.engine)
        source = HuggingFaceDailyPapers(
            PoliteHttp(httpx.Client(transport=httpx.MockTransport(handler))),
            "http://hf.bench",
            page_size=PAGE_SIZE,
        )
        rss_before = _status_kb("VmRSS")
        started = time.perf_counter()
        report = fetch_window(db, source, FIRST_DAY, FIRST_DAY + timedelta(days=days - 1))
        seconds = time.perf_counter() - started
        growth_kb = _status_kb("VmHWM") - rss_before
        db.dispose()
    if report.new != items or report.error:
        raise SystemExit(f"expected {items} new papers, got {report.new} ({report.error})")
    return {"items": items, "seconds": seconds, "growth_mb": growth_kb / 1024}


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(f"/proc/self/status has no {field}")


def _in_child(items: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--child", str(items)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000, help="the larger run's size")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child)))
        return
    small, large = _in_child(args.items // 10), _in_child(args.items)
    for run in (small, large):
        print(
            f"{int(run['items']):>7,} items  {run['items'] / run['seconds']:>7,.0f} items/s  "
            f"peak memory +{run['growth_mb']:.1f} MB"
        )
    ratio = large["growth_mb"] / max(small["growth_mb"], 0.1)
    print(f"memory ratio ({int(large['items']):,} / {int(small['items']):,} items): {ratio:.2f}")


if __name__ == "__main__":
    main()
