"""How long does `digest subscribers import` take on a big file, and how much memory?

    .venv/bin/python -m bench.import_subscribers [--rows 100000]

Writes `--rows` CSV rows (every 50th a bad timezone, every 100th a repeated address) to a
temporary file, then runs the installed `digest subscribers import` on a fresh SQLite file
and on a fresh PostgreSQL database (bench/support.py), twice each: the first run stores
them, the second finds them all already there. Reports each run's seconds and the peak
RSS of the importing process (its own `ru_maxrss`, read from wait4).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.support import create_database, drop_database

DIGEST = Path(sys.executable).parent / "digest"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]


def write_rows(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("email,topics,timezone,send_hour,frequency,papers\n")
        for i in range(rows):
            address = i - 1 if i % 100 == 98 else i
            zone = "Mars/Olympus" if i % 50 == 49 else ZONES[i % len(ZONES)]
            handle.write(f'reader{address}@bench.example,"llm,diffusion",{zone},')
            handle.write(f"{i % 24},daily,10\n")


def run_import(database_url: str, source: Path, workdir: Path) -> tuple[float, float, str]:
    """Seconds, peak RSS in MiB and the summary line of one `digest subscribers import`."""
    env = {**os.environ, "DIGEST_DATABASE_URL": database_url, "DIGEST_SECRET_KEY": SECRET}
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(DIGEST), "subscribers", "import", str(source), "--report", str(workdir / "r.txt")],
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    summary = process.stdout.read().strip() if process.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"import failed on {database_url}: {summary}")
    return seconds, usage.ru_maxrss / 1024, summary


def upgrade(database_url: str, workdir: Path) -> None:
    env = {**os.environ, "DIGEST_DATABASE_URL": database_url, "DIGEST_SECRET_KEY": SECRET}
    subprocess.run([str(DIGEST), "db", "upgrade"], env=env, cwd=workdir, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        source = workdir / "subscribers.csv"
        write_rows(source, args.rows)
        name, pg_url = create_database()
        try:
            targets = {"sqlite": f"sqlite:///{workdir / 'bench.db'}", "postgresql": pg_url}
            print(f"{args.rows} rows, {source.stat().st_size / 2**20:.1f} MiB of CSV")
            for label, url in targets.items():
                upgrade(url, workdir)
                for run in ("first", "second"):
                    seconds, rss, summary = run_import(url, source, workdir)
                    print(f"{label:10} {run:6} run: {seconds:6.1f} s, peak RSS {rss:5.0f} MiB")
                    print(f"{'':10} {summary}")
        finally:
            drop_database(name)


if __name__ == "__main__":
    main()
