"""How long `digest --help` and a few subcommands' --help take: the median of N runs,
beside `python -c pass` (the floor every command pays to start Python).

    .venv/bin/python -m bench.cli_help --runs 20
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

DIGEST = Path(sys.executable).parent / "digest"
COMMANDS: list[list[str]] = [
    ["--help"],
    ["send", "--help"],
    ["stats", "--help"],
    ["subscribers", "list", "--help"],
    ["fetch", "--help"],
]
GOAL_SECONDS = 0.5


def median_seconds(command: list[str], runs: int) -> float:
    """The median wall time of `runs` runs of `command`, output discarded."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, help="runs per command (median taken)")
    runs = parser.parse_args().runs
    floor = median_seconds([sys.executable, "-c", "pass"], runs)
    print(f"{'python -c pass':32} {floor:6.3f} s  (the floor)")
    slowest = 0.0
    for arguments in COMMANDS:
        seconds = median_seconds([str(DIGEST), *arguments], runs)
        slowest = max(slowest, seconds)
        label = " ".join(["digest", *arguments])
        print(f"{label:32} {seconds:6.3f} s  ({seconds - floor:+.3f} s over the floor)")
    verdict = "within" if slowest < GOAL_SECONDS else "over"
    print(f"slowest {slowest:.3f} s: {verdict} the {GOAL_SECONDS} s goal (median of {runs} runs)")


if __name__ == "__main__":
    main()
