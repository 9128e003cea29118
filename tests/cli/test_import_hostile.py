"""`digest subscribers import` against hostile files, run as a process on SQLite and
PostgreSQL: every field passes the web's own checks, a bad row costs only itself (named by
its line, never by its address, with no traceback), a 150 MB line is skipped with memory
bounded, and a deeply nested JSON line is one rejected line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select, text

from digest.store.db import Database
from digest.store.models import Subscriber
from tests.cli.command import DIGEST, clean_environment, digest
from tests.cli.test_import import environment, rejection_lines

HOSTILE_CHARACTERS = {
    "nul": "\x00",
    "bell": "\x07",
    "escape": "\x1b",
    "delete": "\x7f",
    "c1": "\x9b",
    "noncharacter": "\ufffe",
}


def stored_emails(db: Database) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(Subscriber.email)))


def assert_no_address_and_no_traceback(output: str, addresses: list[str]) -> None:
    assert "Traceback" not in output
    for address in addresses:
        assert address not in output


def test_control_characters_in_topics_and_authors_reject_only_their_row(
    db: Database, tmp_path: Path
) -> None:
    lines = ["email,topics,authors"]
    bad: dict[int, str] = {}  # line number: address
    for index, (name, char) in enumerate(HOSTILE_CHARACTERS.items()):
        value = f"graph{char}learning"
        cells = f"{value}," if index % 2 == 0 else f",{value}"  # topics, then authors
        lines.append(f"{name}@example.com,{cells}")
        bad[len(lines)] = f"{name}@example.com"
        lines.append(f"fine{index}@example.com,diffusion,Ada Lovelace")
    source = tmp_path / "hostile.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = digest(["subscribers", "import", str(source)], environment(db.url), tmp_path)

    assert result.returncode == 0, result.stderr
    rejected = rejection_lines(result.stderr)
    assert {line.split(":")[0] for line in rejected} == {f"line {n}" for n in bad}
    assert all("field contains a" in line for line in rejected), rejected
    assert_no_address_and_no_traceback(result.stderr + result.stdout, list(bad.values()))
    assert stored_emails(db) == {f"fine{i}@example.com" for i in range(len(HOSTILE_CHARACTERS))}


def test_json_lines_with_control_characters_and_a_deep_nest_go_on_past_them(
    db: Database, tmp_path: Path
) -> None:
    good = [json.dumps({"email": f"reader{i}@example.com"}) for i in range(17)]
    deep = '{"email": "deep@example.com", "topics": ' + "[" * 3000 + "]" * 3000 + "}"
    nul = json.dumps({"email": "nul@example.com", "authors": ["Ada\u0000Lovelace"]})
    after = [json.dumps({"email": f"after{i}@example.com"}) for i in range(3)]
    source = tmp_path / "hostile.jsonl"
    source.write_text("\n".join([*good, deep, nul, *after]) + "\n", encoding="utf-8")

    result = digest(["subscribers", "import", str(source)], environment(db.url), tmp_path)

    assert result.returncode == 0, result.stderr
    assert rejection_lines(result.stderr) == {
        "line 18: nested too deeply to be a subscriber",
        "line 19: the authors field contains a control character",
    }
    assert_no_address_and_no_traceback(
        result.stderr + result.stdout, ["deep@example.com", "nul@example.com"]
    )
    assert stored_emails(db) == {
        *(f"reader{i}@example.com" for i in range(17)),
        *(f"after{i}@example.com" for i in range(3)),
    }


def write_file_with_a_huge_line(path: Path, megabytes: int) -> None:
    """A CSV whose third line is `megabytes` MiB long, written a MiB at a time."""
    chunk = "x" * (1024 * 1024)
    with path.open("w", encoding="utf-8") as out:
        out.write("email,topics\nbefore@example.com,llm\nhuge@example.com,")
        for _ in range(megabytes):
            out.write(chunk)
        out.write("\nafter@example.com,rl\n")


# Run from a small Python launcher: a child forked from this (big) test process would
# count this process's memory in its own peak, since Linux keeps the high-water mark
# across exec.
MEASURE = """
import resource, subprocess, sys
status = subprocess.call(sys.argv[2:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(str(peak))
sys.exit(status)
"""


def run_measured(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, int]:
    """Run `digest ARGS`; returns its exit status, stderr and its own peak RSS in KiB."""
    peak_path, stderr_path = cwd / "peak-kib.txt", cwd / "stderr.txt"
    with (cwd / "stdout.txt").open("w") as stdout, stderr_path.open("w") as stderr:
        status = subprocess.call(
            [sys.executable, "-c", MEASURE, str(peak_path), str(DIGEST), *args],
            env=clean_environment(env),
            cwd=cwd,
            stdout=stdout,
            stderr=stderr,
            timeout=300,
        )
    stderr_text = stderr_path.read_text(encoding="utf-8")
    return status, stderr_text, int(peak_path.read_text(encoding="utf-8"))


def test_a_150_mb_csv_line_is_rejected_with_memory_bounded(db: Database, tmp_path: Path) -> None:
    source = tmp_path / "huge.csv"
    write_file_with_a_huge_line(source, 150)

    try:
        status, stderr, peak_kib = run_measured(
            ["subscribers", "import", str(source)], environment(db.url), tmp_path
        )
    finally:
        source.unlink()  # pytest keeps recent temporary folders: not 150 MB of them

    assert status == 0, stderr
    # The whole program peaks near 70-90 MiB on a small file (docs/cli.md); holding the
    # line would take more than 150 MiB by itself.
    assert peak_kib < 140 * 1024, f"peak RSS {peak_kib // 1024} MiB"
    assert rejection_lines(stderr) == {"line 3: longer than 65536 characters"}
    assert_no_address_and_no_traceback(stderr, ["huge@example.com"])
    assert stored_emails(db) == {"before@example.com", "after@example.com"}


def test_a_long_quoted_cell_that_never_closes_costs_only_its_row(
    db: Database, tmp_path: Path
) -> None:
    source = tmp_path / "open-quote.csv"
    source.write_text(
        'email,topics\nfirst@example.com,llm\nopen@example.com,"'
        + "y" * 40_000
        + "\n"
        + "z" * 40_000
        + "\nlast@example.com,rl\n",
        encoding="utf-8",
    )

    result = digest(["subscribers", "import", str(source)], environment(db.url), tmp_path)

    assert result.returncode == 0, result.stderr
    assert rejection_lines(result.stderr) == {"line 3: longer than 65536 characters"}
    assert stored_emails(db) == {"first@example.com", "last@example.com"}


REFUSED = "refused@example.com"
# A database that refuses one row the checks accept (a trigger stands for any such reason).
REFUSING_TRIGGER = {
    "sqlite": [
        f"""CREATE TRIGGER refuse_one BEFORE INSERT ON subscribers WHEN NEW.email = '{REFUSED}'
        BEGIN SELECT RAISE(ABORT, 'refused'); END""",
    ],
    "postgresql": [
        f"""CREATE OR REPLACE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN
        IF NEW.email = '{REFUSED}' THEN RAISE EXCEPTION 'refused' USING ERRCODE = '22023';
        END IF; RETURN NEW; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER refuse_one BEFORE INSERT ON subscribers
        FOR EACH ROW EXECUTE FUNCTION refuse_one()""",
    ],
}


def test_a_row_the_database_refuses_costs_only_itself(db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        for statement in REFUSING_TRIGGER[session.get_bind().dialect.name]:
            session.execute(text(statement))
    addresses = [f"row{i}@example.com" for i in range(3)] + [REFUSED, "row3@example.com"]
    source = tmp_path / "list.csv"
    source.write_text("email\n" + "\n".join(addresses) + "\n", encoding="utf-8")

    result = digest(["subscribers", "import", str(source)], environment(db.url), tmp_path)

    assert result.returncode == 0, result.stderr
    (rejected,) = rejection_lines(result.stderr)
    assert rejected.startswith("line 5: the database refused the row")
    assert_no_address_and_no_traceback(result.stderr + result.stdout, addresses)
    assert "added 4" in result.stdout and "invalid 1" in result.stdout
    assert stored_emails(db) == set(addresses) - {REFUSED}
