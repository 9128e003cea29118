"""The docs keep up with the code: one row per setting in docs/configuration.md, a short README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digest.settings import RENAMED, Settings, env_name

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
README_MAX_LINES = 260
PREFIX = "DIGEST_"
SETTING_ROW = re.compile(r"^\| `(DIGEST_[A-Za-z0-9_]+)`")
CELL_BORDER = re.compile(r"(?<!\\)\|")  # a table cell ends at a pipe that is not escaped
DOCS_LINK = re.compile(r"\]\((docs/[^)#\s]+)")


def setting_variables() -> set[str]:
    """The environment variable of every field of the settings model."""
    variables: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if alias is None:
            variables.add(PREFIX + name.upper())
        elif isinstance(alias, str):
            variables.add(alias)
        else:
            pytest.fail(f"Settings.{name}: teach this test to read a {type(alias).__name__} alias")
    return variables


def setting_rows() -> list[str]:
    """Each table line of docs/configuration.md whose first cell is a `DIGEST_…` variable."""
    lines = CONFIGURATION.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if SETTING_ROW.match(line)]


def row_variable(row: str) -> str:
    match = SETTING_ROW.match(row)
    assert match is not None
    return match.group(1)


def test_every_setting_has_a_row() -> None:
    documented = {row_variable(row) for row in setting_rows()}
    missing = sorted(setting_variables() - documented)
    assert not missing, (
        f"settings without a row in {CONFIGURATION.relative_to(ROOT)}: {', '.join(missing)}; "
        "add one to the right table as | `DIGEST_NAME` | meaning | default |"
    )


def test_every_row_names_a_setting() -> None:
    stale = sorted({row_variable(row) for row in setting_rows()} - setting_variables())
    assert not stale, (
        f"rows in {CONFIGURATION.relative_to(ROOT)} for settings that do not exist: "
        f"{', '.join(stale)}"
    )


def test_each_setting_has_one_row() -> None:
    variables = [row_variable(row) for row in setting_rows()]
    repeated = sorted({name for name in variables if variables.count(name) > 1})
    assert not repeated, f"settings with more than one row: {', '.join(repeated)}"


def test_every_row_gives_a_meaning_and_a_default() -> None:
    incomplete: list[str] = []
    for row in setting_rows():
        cells = [cell.strip() for cell in CELL_BORDER.split(row.strip())[1:-1]]
        if len(cells) < 3 or not all(cells[:3]):
            incomplete.append(row_variable(row))
    assert not incomplete, f"rows without a meaning or a default: {', '.join(incomplete)}"


def test_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}); move depth to docs/"
    )


def test_readme_links_every_docs_page() -> None:
    readme = README.read_text(encoding="utf-8")
    pages = sorted(DOCS.glob("*.md"))
    assert pages, "docs/ holds no pages"
    unlinked = [page.name for page in pages if f"](docs/{page.name}" not in readme]
    assert not unlinked, f"docs pages the README does not link to: {', '.join(unlinked)}"


def test_readme_links_to_docs_exist() -> None:
    targets = DOCS_LINK.findall(README.read_text(encoding="utf-8"))
    broken = sorted({target for target in targets if not (ROOT / target).is_file()})
    assert not broken, f"README links to missing docs pages: {', '.join(broken)}"


MAP = DOCS / "where-things-live.md"
MAPPED_PATH = re.compile(r"`((?:digest|workers|templates|migrations|tests)/[^`<>\s]*)`")


def test_the_map_names_only_paths_that_exist() -> None:
    named = MAPPED_PATH.findall(MAP.read_text(encoding="utf-8"))
    assert len(named) >= 20, "the map names too few paths: has the pattern stopped matching?"
    missing = sorted({path for path in named if not (ROOT / path).exists()})
    assert not missing, f"{MAP.relative_to(ROOT)} names paths that do not exist: {missing}"


def test_the_map_adds_each_thing_in_three_files_at_most() -> None:
    sections = re.split(r"^## ", MAP.read_text(encoding="utf-8"), flags=re.MULTILINE)
    adding = {s.splitlines()[0]: s for s in sections if s.startswith("Adding")}
    assert len(adding) == 4, f"expected four 'Adding …' sections, found {sorted(adding)}"
    for title, text in adding.items():
        steps = re.findall(r"^\d+\. ", text, flags=re.MULTILINE)
        assert 1 <= len(steps) <= 3, f"{title}: {len(steps)} files to touch"


def test_every_renamed_setting_is_listed_with_its_new_name() -> None:
    text = CONFIGURATION.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| old `DIGEST_")]
    listed = {re.findall(r"`(DIGEST_[A-Z0-9_]+)`", row)[0]: row for row in rows}
    assert sorted(listed) == sorted(RENAMED), "docs/configuration.md#renamed-settings"
    for old, field in RENAMED.items():
        assert f"`{env_name(field)}`" in listed[old], f"{old} is listed without its new name"
