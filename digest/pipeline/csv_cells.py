"""CSV files we write are opened in spreadsheets, where a cell that starts with `=`, `+`,
`-`, `@`, a tab or a carriage return is read as a formula (`=HYPERLINK(…)` sends data away).
Every CSV goes through `csv_writer`, which writes such a text cell behind a single quote (the
OWASP rule); `restored_cell` undoes exactly that on import, so export -> import keeps every
value. A value that itself starts with quotes before a formula character gets one more
quote, so the two are inverse of each other.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutralised_cell(value: str) -> str:
    """`value` with a quote in front if a spreadsheet would read it as a formula (or if it
    already starts with quotes before a formula character)."""
    if value.lstrip(QUOTE).startswith(FORMULA_STARTS):
        return QUOTE + value
    return value


def restored_cell(cell: str) -> str:
    """The value `neutralised_cell` was given: one leading quote dropped where it added one."""
    if cell.startswith(QUOTE) and cell.lstrip(QUOTE).startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


class SafeCsvWriter:
    """A csv writer whose text cells are neutralised; other values are written as csv does."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out)

    def writerow(self, values: Iterable[object]) -> None:
        self._writer.writerow(
            neutralised_cell(value) if isinstance(value, str) else value for value in values
        )


def csv_writer(out: IO[str]) -> SafeCsvWriter:
    """The writer for every CSV file we produce."""
    return SafeCsvWriter(out)
