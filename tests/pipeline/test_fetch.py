"""fetch_and_store on SQLite and PostgreSQL: idempotent re-fetches, failures that keep data."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from digest.errors import DigestError, SourceError
from digest.papers import MAX_COUNT, FetchedPaper
from digest.pipeline.fetch import build_source, fetch_and_store
from digest.settings import Settings
from digest.sources.base import FetchResult
from digest.sources.file import FileSource
from digest.sources.hf import HuggingFaceDailyPapers
from digest.sources.sample import SampleSource
from digest.store.db import Database
from digest.store.models import Paper, SignalSnapshot
from tests.conftest import TEST_SECRET
from tests.sources.hostile import GOOD_HF, HF_CASES, all_hf_cases_page
from tests.sources.support import API_URL, DAY, json_answer, mock_client, payload, polite

MORNING = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
EVENING = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)


def hf_answering(body: bytes, status: int = 200) -> HuggingFaceDailyPapers:
    return HuggingFaceDailyPapers(polite(mock_client(json_answer(body, status))), API_URL)


def with_upvotes(body: bytes, upvotes: int) -> bytes:
    items = json.loads(body)
    for item in items:
        item["paper"]["upvotes"] = upvotes
    return json.dumps(items).encode()


def counts(db: Database) -> tuple[int, int]:
    with db.session() as session:
        papers = session.scalar(select(func.count()).select_from(Paper))
        snapshots = session.scalar(select(func.count()).select_from(SignalSnapshot))
    return papers or 0, snapshots or 0


def upvote_history(db: Database, arxiv_id: str) -> list[int]:
    with db.session() as session:
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == arxiv_id)).one()
        return [snapshot.upvotes for snapshot in paper.signals]


def test_refetch_adds_no_papers_but_records_the_new_signals(db: Database) -> None:
    body = payload("hf_daily_papers_new_shape")

    first = fetch_and_store(db, hf_answering(body), DAY, now=MORNING)
    second = fetch_and_store(db, hf_answering(with_upvotes(body, 500)), DAY, now=EVENING)

    assert (first.seen, first.new, first.updated) == (3, 3, 0)
    assert (second.seen, second.new, second.updated) == (3, 0, 3)
    assert counts(db) == (3, 6)
    assert upvote_history(db, "2611.00101") == [142, 500]
    with db.session() as session:
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == "2611.00101")).one()
        assert paper.first_seen_at == MORNING
        assert [s.observed_at for s in paper.signals] == [MORNING, EVENING]


def test_failed_fetch_after_a_good_one_keeps_the_earlier_rows(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    fetch_and_store(db, hf_answering(payload("hf_daily_papers_new_shape")), DAY, now=MORNING)

    with (
        caplog.at_level(logging.ERROR, logger="digest.pipeline.fetch"),
        pytest.raises(SourceError, match="HTTP 503"),
    ):
        fetch_and_store(db, hf_answering(b"unavailable", status=503), DAY, now=EVENING)

    assert counts(db) == (3, 3)
    assert upvote_history(db, "2611.00101") == [142]
    assert any("HTTP 503" in record.getMessage() for record in caplog.records)


def test_truncated_answer_stores_its_complete_items_and_says_so(db: Database) -> None:
    body = payload("hf_daily_papers_new_shape")
    cut = body[: body.index(b'"2611.00102"')]  # inside the second item

    with pytest.raises(SourceError, match="kept the 1 complete items"):
        fetch_and_store(db, hf_answering(cut), DAY)

    assert counts(db) == (1, 1)


def test_a_newer_version_merges_into_the_same_paper(db: Database) -> None:
    v1 = [
        {
            "paper": {
                "id": "2611.00501v1",
                "title": "Draft Title",
                "summary": "First abstract.",
                "githubRepo": "https://github.com/example-org/draft",
                "upvotes": 4,
            }
        }
    ]
    v2 = [{"paper": {"id": "2611.00501v2", "title": "Final  Title", "upvotes": 9}}]

    fetch_and_store(db, hf_answering(json.dumps(v1).encode()), DAY, now=MORNING)
    report = fetch_and_store(db, hf_answering(json.dumps(v2).encode()), DAY, now=EVENING)

    assert (report.new, report.updated) == (0, 1)
    with db.session() as session:
        (paper,) = session.scalars(select(Paper)).all()
        assert paper.arxiv_id == "2611.00501"
        assert paper.title == "Final Title"
        assert paper.abstract == "First abstract."  # v2 said nothing, so v1's stays
        assert paper.code_url == "https://github.com/example-org/draft"
    assert upvote_history(db, "2611.00501") == [4, 9]


def test_report_lists_what_was_skipped(sqlite_db: Database) -> None:
    report = fetch_and_store(sqlite_db, hf_answering(payload("hf_daily_papers_broken")), DAY)

    assert (report.source, report.day, report.seen, report.new) == ("hf", DAY, 2, 2)
    assert ("2611.00201", "no title") in report.skipped
    assert len(report.skipped) == report.skipped_count == 6
    assert report.duration_seconds >= 0 and report.duration == report.duration_seconds


def test_sample_fetch_fills_an_empty_store_with_todays_papers(sqlite_db: Database) -> None:
    today = date(2026, 11, 25)

    report = fetch_and_store(sqlite_db, SampleSource(), today)

    assert report.new == report.seen >= 10
    with sqlite_db.session() as session:
        assert set(session.scalars(select(Paper.listed_on))) == {today}
        assert set(session.scalars(select(Paper.source))) == {"sample"}


@pytest.fixture
def plain_settings() -> Settings:
    return Settings(secret_key=TEST_SECRET, hf_api_url="http://hf.test/", hf_token="hf_secret")


def test_source_names_map_to_sources(plain_settings: Settings, tmp_path: Path) -> None:
    with httpx.Client() as client:
        hf = build_source("hf", plain_settings, client)
        sample = build_source("sample", plain_settings, client)
        file = build_source(f"file:{tmp_path / 'papers.json'}", plain_settings, client)

    assert isinstance(hf, HuggingFaceDailyPapers)
    assert (hf.api_url, hf.token, hf.http.client) == ("http://hf.test", "hf_secret", client)
    assert isinstance(sample, SampleSource)
    assert isinstance(file, FileSource) and file.path == tmp_path / "papers.json"


@pytest.mark.parametrize("name", ["arXiv", "HF", "file:", ""])
def test_unknown_source_lists_the_choices(plain_settings: Settings, name: str) -> None:
    with httpx.Client() as client, pytest.raises(DigestError) as caught:
        build_source(name, plain_settings, client)
    assert "choose hf, arxiv, sample or file:PATH" in str(caught.value)


def test_a_page_of_hostile_items_stores_the_same_good_rows_on_both_databases(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    kept = [case for case in HF_CASES if case.expected is not None]
    refused = [case for case in HF_CASES if case.expected is None]

    with caplog.at_level(logging.WARNING):
        report = fetch_and_store(db, hf_answering(all_hf_cases_page()), DAY, now=MORNING)

    assert (report.seen, report.skipped_count) == (len(GOOD_HF) + len(kept), len(refused))
    assert "Traceback" not in caplog.text
    with db.session() as session:
        rows = {paper.arxiv_id: paper for paper in session.scalars(select(Paper))}
        assert set(GOOD_HF) <= set(rows)
        top = max(snapshot.upvotes for paper in rows.values() for snapshot in paper.signals)
    assert len(rows) == len(GOOD_HF) + len(kept)
    assert top == MAX_COUNT


class OnePage:
    """A source that yields the papers it was given, as one page."""

    name = "test"

    def __init__(self, papers: list[FetchedPaper]) -> None:
        self.papers = papers

    def pages(self, day: date) -> Iterator[FetchResult]:
        yield FetchResult(self.papers)


def test_a_value_the_database_refuses_costs_only_its_paper(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # As if a limit were missing from the checks: the database itself refuses the value.
    monkeypatch.setattr("digest.store.papers.paper_problem", lambda paper: None)
    bad = FetchedPaper(arxiv_id="2611.00002", title="Too popular")
    object.__setattr__(bad, "upvotes", 2**63)
    papers = [FetchedPaper(arxiv_id=f"2611.0000{n}", title=f"Good {n}", upvotes=n) for n in (1, 3)]

    with caplog.at_level(logging.WARNING):
        report = fetch_and_store(db, OnePage([papers[0], bad, papers[1]]), DAY, now=MORNING)

    assert (report.seen, report.new, report.skipped_count) == (2, 2, 1)
    ((identifier, reason),) = report.skipped
    assert identifier == "2611.00002" and reason.startswith("refused by the database")
    assert "storing its papers one by one" in caplog.text and "Traceback" not in caplog.text
    assert counts(db) == (2, 2)
