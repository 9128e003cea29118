"""The `digest` command: the installed one in a real process, as an operator runs it, or the
same entry point in the test process where the process boundary is not what is tested."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL, WITHOUT_MODEL

DIGEST = Path(sys.executable).parent / "digest"


def clean_environment(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without its DIGEST_* settings, plus exactly `env`.

    Unless `env` says otherwise: this test process's own Redis database as the broker (xdist
    workers run side by side), and no embedding model (see WITHOUT_MODEL)."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("DIGEST_")}
    return {**kept, "DIGEST_BROKER_URL": REDIS_URL, **WITHOUT_MODEL, **env}


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


def digest_in_process(
    args: list[str], env: dict[str, str], cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> subprocess.CompletedProcess[str]:
    """`digest ARGS` through the same entry point (`digest.cli.main`: its exit codes and
    one-line errors), run in this process: the environment is exactly `env` as for `digest`,
    without the cost of starting Python and importing the project again."""
    from digest.cli import main
    from digest.settings import get_settings

    for name in [name for name in os.environ if name.startswith("DIGEST_")]:
        monkeypatch.delenv(name)
    for name, value in clean_environment(env).items():
        if name.startswith("DIGEST_"):
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["digest", *args])
    stdout, stderr = io.StringIO(), io.StringIO()
    get_settings.cache_clear()
    code: int | str | None = 0
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            main()
    except SystemExit as exc:
        code = exc.code
    finally:
        get_settings.cache_clear()
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess(
        ["digest", *args], returncode, stdout.getvalue(), stderr.getvalue()
    )
