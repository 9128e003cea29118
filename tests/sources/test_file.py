"""Papers from a JSON file in the daily-papers shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.sources.base import collect
from digest.sources.file import FileSource
from tests.sources.support import DAY, PAYLOADS


def test_a_plain_list_file_gives_all_its_papers() -> None:
    result = collect(FileSource(PAYLOADS / "hf_daily_papers_new_shape.json"), DAY)

    assert [p.arxiv_id for p in result.papers] == ["2611.00101", "2611.00102", "2611.00103"]


def test_an_object_with_a_note_and_papers_is_accepted(tmp_path: Path) -> None:
    items = json.loads((PAYLOADS / "hf_daily_papers_old_shape.json").read_text())
    path = tmp_path / "papers.json"
    path.write_text(json.dumps({"note": "exported by hand", "papers": items}))

    result = collect(FileSource(str(path)), DAY)

    assert [p.title for p in result.papers] == [
        "Instruction Tuning With Fewer Examples",
        "Video Captions at Scale",
    ]
    # The file is not filtered by day: its own listing day wins, the asked day fills gaps.
    assert [p.listed_on for p in result.papers] == [result.papers[0].listed_on, DAY]
    assert str(result.papers[0].listed_on) == "2023-11-08"


def test_broken_items_in_a_file_are_skipped_not_fatal() -> None:
    result = collect(FileSource(PAYLOADS / "hf_daily_papers_broken.json"), DAY)

    assert len(result.papers) == 2
    assert len(result.skipped) == 6


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"paper file .*nowhere\.json: no such file"):
        collect(FileSource(tmp_path / "nowhere.json"), DAY)


def test_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot be read"):
        collect(FileSource(tmp_path), DAY)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[{"paper": {"id": "2611.00001"', r"not valid JSON \(line 1"),
        ('{"note": "no papers here"}', 'expected a list of papers or an object with a "papers"'),
        ("42", "expected a list of papers"),
        (b"\xff\xfe[]", "cannot be read"),
    ],
)
def test_unusable_content_is_a_clear_error(
    tmp_path: Path, content: str | bytes, expected: str
) -> None:
    path = tmp_path / "papers.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)

    with pytest.raises(SourceError, match=expected):
        collect(FileSource(path), DAY)
