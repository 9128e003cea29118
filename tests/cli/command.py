"""The installed `digest` command, run as an operator runs it: a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DIGEST = Path(sys.executable).parent / "digest"


def clean_environment(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without its DIGEST_* settings, plus exactly `env`."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("DIGEST_")}
    return {**kept, **env}


def digest(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`digest ARGS` with stdout and stderr captured (so not a terminal)."""
    return subprocess.run(
        [str(DIGEST), *args],
        env=clean_environment(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
