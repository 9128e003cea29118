"""Read-only commands leave nothing behind: no database, no folder, no secret file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.command import digest
from tests.conftest import TEST_SECRET, free_port

READ_ONLY = [["stats"], ["subscribers", "list"], ["preview", "ops@example.org"]]


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.parametrize("args", READ_ONLY, ids=lambda args: " ".join(args))
def test_a_missing_database_is_said_in_one_line_and_not_created(
    args: list[str], tmp_path: Path
) -> None:
    database = tmp_path / "data" / "digest.db"  # neither the folder nor the file exists
    env = {"DIGEST_DATABASE_URL": f"sqlite:///{database}"}
    result = digest(args, env, tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"digest: no database at {database} (`digest db upgrade` creates it)\n"
    assert files_under(tmp_path) == []


def test_the_default_database_is_not_created_in_the_working_folder(tmp_path: Path) -> None:
    result = digest(["stats"], {}, tmp_path)
    assert result.returncode == 1 and "no database at" in result.stderr
    assert files_under(tmp_path) == []


def test_doctor_writes_nothing(tmp_path: Path) -> None:
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'digest.db'}",
        "DIGEST_MAIL_URL": f"smtp://127.0.0.1:{free_port()}",  # nothing listens
    }
    result = digest(["doctor", "--no-dns"], env, tmp_path)
    assert "FAIL  smtp" in result.stdout and result.returncode == 1
    assert files_under(tmp_path) == []


def test_read_only_commands_on_a_database_make_no_secret_file(tmp_path: Path) -> None:
    database = tmp_path / "digest.db"
    url = {"DIGEST_DATABASE_URL": f"sqlite:///{database}"}
    # Created with a configured key, so no secret file is written beside it.
    upgraded = digest(["db", "upgrade"], {**url, "DIGEST_SECRET_KEY": TEST_SECRET}, tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    before = set(files_under(tmp_path))
    assert "digest.secret" not in before
    stats = digest(["stats"], url, tmp_path)
    assert stats.returncode == 0 and "subscribers: none" in stats.stdout, stats.stderr
    listed = digest(["subscribers", "list"], url, tmp_path)
    assert listed.returncode == 0 and "email" in listed.stdout, listed.stderr
    unknown = digest(["preview", "nobody@example.org"], url, tmp_path)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "digest.secret" not in files_under(tmp_path)
    # A command that writes keeps the key it made, beside the database, as before.
    added = digest(["subscribers", "add", "ops@example.org", "--confirmed"], url, tmp_path)
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "digest.secret").exists()
