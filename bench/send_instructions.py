"""CPU instructions per digest sent, counted by callgrind: a figure the machine's load cannot
move, to compare this tree's send path with another commit's.

    .venv/bin/python -m bench.send_instructions [--tree PATH ...] [--digests 100 300]

For each tree (default: this one; `--tree` adds another checkout, e.g. a `git worktree` of an
older commit, run with this venv's Python), a SQLite database is prepared outside the count
with that tree's own commands: the migrations, the packaged sample papers, N confirmed
subscribers (a third follow a topic, so editions are personalised) and the day's queued
deliveries. Then one process under `valgrind --tool=callgrind` sends them with `send_batch`
to an aiosmtpd sink in a process of its own (not counted). The process is run for two
values of N; the difference of the two counts over the difference of N is the cost of one
digest (import and start-up cancel out): render, DKIM off, SMTP, and the marks in the store.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.support import free_port

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-key-long-enough-0123456789abcdef"
TOPICS = ["diffusion", "language", "robot", "graph", "speech", "vision"]

# This venv's editable install would win over PYTHONPATH: leave it out, so that `digest` is
# the tree's.
PRELUDE = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f)]
sys.path.insert(0, sys.argv.pop(1))
"""

PLAN = (
    PRELUDE
    + """
from datetime import UTC, datetime
from digest.pipeline.plan import plan_deliveries
from digest.settings import load_settings
from digest.store.db import Database
settings = load_settings()
day = datetime.fromisoformat(sys.argv[1]).date()
report = plan_deliveries(Database(settings.database_url), settings, datetime.now(UTC), edition=day)
print(sum(report.queued.values()))
"""
)

SEND = (
    PRELUDE
    + """
import digest
from sqlalchemy import select
from digest.pipeline.send import send_batch
from digest.settings import load_settings
from digest.store.db import Database
from digest.store.models import Delivery
settings = load_settings()
db = Database(settings.database_url)
with db.session() as session:
    pool_id = session.scalars(select(Delivery.pool_id).limit(1)).one()
sent = 0
while True:
    counts = send_batch(db, settings, pool_id)
    if counts.due == 0:
        break
    sent += counts.sent
print(sent, digest.__file__)
"""
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, action="append", default=[])
    parser.add_argument("--digests", type=int, nargs=2, default=[100, 300])
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    trees = [ROOT, *[tree.resolve() for tree in args.tree]]
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
         "-l", f"127.0.0.1:{port}"]
    )  # fmt: skip
    time.sleep(1.0)
    try:
        small, large = args.digests
        for tree in trees:
            counts = {n: _instructions(tree, n, port) for n in (small, large)}
            per_digest = (counts[large] - counts[small]) / (large - small)
            print(
                f"{tree}: {counts[small]:,} instructions for {small} digests, "
                f"{counts[large]:,} for {large}: {per_digest:,.0f} per digest"
            )
    finally:
        sink.terminate()
        sink.wait()


def _instructions(tree: Path, digests: int, port: int) -> int:
    """Callgrind's instruction count of one process sending `digests` prepared digests."""
    with tempfile.TemporaryDirectory(prefix="digest-send-instructions-") as folder:
        work = Path(folder)
        env = {
            **os.environ,
            "DIGEST_DATABASE_URL": f"sqlite:///{work / 'digest.db'}",
            "DIGEST_SECRET_KEY": SECRET,
            "DIGEST_BASE_URL": "https://digest.example.org",
            "DIGEST_FROM": "digest@example.org",
            "DIGEST_MAIL_URL": f"smtp://127.0.0.1:{port}",
            "DIGEST_SMTP_URL": f"smtp://127.0.0.1:{port}",  # its name before 0017, for old trees
            "DIGEST_SEND_JOURNAL": str(work / "journal.jsonl"),
            "DIGEST_EMBEDDING_MODEL": "off",
            "DIGEST_SEND_BATCH_SIZE": "100",
        }
        day = datetime.now(UTC).date().isoformat()
        cli = [sys.executable, "-c", PRELUDE + "from digest.cli import main; main()", str(tree)]
        people = work / "subscribers.csv"
        with people.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["email", "topics"])
            for n in range(digests):
                writer.writerow([f"reader{n}@example.org", TOPICS[n % 6] if n % 3 == 0 else ""])
        for command in (
            ["db", "upgrade"],
            ["fetch", "--source", "sample", "--date", day],
            ["subscribers", "import", str(people), "--confirmed", "--consent", "bench"],
        ):
            subprocess.run([*cli, *command], env=env, check=True, capture_output=True)
        queued = subprocess.run(
            [sys.executable, "-c", PLAN, str(tree), day],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[-1]
        if int(queued) != digests:
            raise SystemExit(f"{tree}: {queued} deliveries queued, expected {digests}")
        out_file = work / "callgrind.out"
        sent = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
             sys.executable, "-c", SEND, str(tree)],
            env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        number, module = sent.stdout.split()[-2:]
        if int(number) != digests or not module.startswith(str(tree)):
            raise SystemExit(f"{tree}: sent {number} digests with {module}")
        match = re.search(r"^summary:\s*(\d+)", out_file.read_text(), re.MULTILINE)
        if match is None:
            raise SystemExit(f"no summary in {out_file}")
        return int(match.group(1))


if __name__ == "__main__":
    main()
