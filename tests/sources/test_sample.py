"""The sample shipped for offline demos: always "today's" papers, and plainly marked as invented."""

from __future__ import annotations

import json
from datetime import date, timedelta

from digest.sources.base import collect
from digest.sources.sample import SampleSource, sample_path


def test_sample_is_labelled_as_invented() -> None:
    document = json.loads(sample_path().read_text(encoding="utf-8"))

    assert "sample" in document["note"].lower()
    assert "not real papers" in document["note"].lower()


def test_sample_papers_are_listed_on_the_day_asked_for() -> None:
    day = date(2031, 2, 3)

    result = collect(SampleSource(), day)

    assert result.skipped == []
    assert 10 <= len(result.papers) <= 15
    assert {p.listed_on for p in result.papers} == {day}
    for paper in result.papers:
        assert paper.published_at is not None
        assert day - paper.published_at.date() in (timedelta(days=1), timedelta(days=2))


def test_sample_looks_like_a_real_day_of_papers() -> None:
    papers = collect(SampleSource(), date(2026, 11, 25)).papers

    assert len({p.arxiv_id for p in papers}) == len(papers)
    assert all(p.arxiv_id.startswith("2611.") for p in papers)
    assert all(p.title and p.abstract and p.authors for p in papers)
    upvotes = [p.upvotes or 0 for p in papers]
    assert min(upvotes) <= 5 and max(upvotes) >= 200
    with_code = [p for p in papers if p.code_url]
    assert 0 < len(with_code) < len(papers)
    assert all(p.stars is not None for p in with_code)
    assert any(p.summary is None for p in papers) and any(p.summary for p in papers)


def test_sample_source_is_named_so_rows_show_where_they_came_from() -> None:
    assert SampleSource.name == "sample"
