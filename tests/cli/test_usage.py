"""Usage mistakes and help, through the installed `digest` command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.command import digest

# What `digest --help` must not load: each costs tenths of a second to import. (Typer
# itself brings pydantic.)
HEAVY_MODULES = ("sklearn", "scipy", "numpy", "sqlalchemy", "rich", "pydantic_settings", "celery")


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["frobnicate"], {}, "No such command 'frobnicate'"),
        (["send", "--day"], {}, "'--day' requires an argument"),
        (["preview"], {}, "Missing argument"),
        (["subscribers", "add"], {}, "Missing argument"),
        (["fetch", "--dat", "2026-11-25"], {}, "No such option: --dat"),
        (["stats"], {"DIGEST_DATABASE_URL": "mysql://ops@127.0.0.1/digest"}, "mysql"),
        (["send"], {"DIGEST_DATABASE_URL": "mysql://ops@127.0.0.1/digest"}, "not supported"),
    ],
)
def test_a_usage_mistake_is_one_line_and_exit_2(
    args: list[str], env: dict[str, str], words: str, tmp_path: Path
) -> None:
    result = digest(args, env, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("digest: ") and words in lines[0]
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing created on the way to the error


def test_help_lists_every_command_without_a_type_after_each_flag(tmp_path: Path) -> None:
    top = digest(["--help"], {}, tmp_path)
    assert top.returncode == 0, top.stderr
    for name in ["demo", "serve", "fetch", "send", "preview", "subscribers", "stats", "doctor"]:
        assert f"  {name} " in top.stdout
    for args in [["--help"], ["send", "--help"], ["doctor", "--help"], ["db", "--help"]]:
        shown = digest(args, {}, tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "<bool>" not in shown.stdout and "--help" in shown.stdout
    flags = digest(["send", "--help"], {}, tmp_path).stdout
    assert "--dry-run " in flags and "--wait / --no-wait" in flags


def test_help_imports_no_heavy_module(tmp_path: Path) -> None:
    # Python's own import log (the -X importtime switch, set from the environment).
    result = digest(["send", "--help"], {"PYTHONPROFILEIMPORTTIME": "1"}, tmp_path)
    assert result.returncode == 0, result.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "digest.cli" in imported  # the log is there and names what it loaded
    heavy = sorted(
        name for name in imported if name.split(".")[0] in HEAVY_MODULES or name in HEAVY_MODULES
        or name.startswith("digest.pipeline")
    )  # fmt: skip
    assert heavy == []
