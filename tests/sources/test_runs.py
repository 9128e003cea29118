"""Whole runs on SQLite and PostgreSQL: the run record, backfill, merging sources, 304s, races."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from digest.errors import SourceError
from digest.papers import FetchedPaper
from digest.pipeline.fetch import (
    IngestReport,
    build_source,
    fetch_window,
    followed_arxiv_categories,
    scheduled_fetch,
)
from digest.settings import Settings
from digest.sources.arxiv import ArxivByCategory
from digest.sources.base import FetchResult
from digest.sources.hf import HuggingFaceDailyPapers
from digest.sources.http import PoliteHttp, polite_http
from digest.sources.registry import arxiv_categories
from digest.store.db import Database
from digest.store.fetch_runs import last_good_window_end
from digest.store.models import (
    Base,
    FetchRun,
    HttpValidator,
    Paper,
    SignalSnapshot,
    Subscriber,
    SubscriberState,
)
from tests.conftest import TEST_SECRET, reset_schema
from tests.sources.support import (
    API_URL,
    DAY,
    Answer,
    local_server,
    mock_client,
    payload,
    polite,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Scripted:
    """A source whose days answer with given papers, nothing, or an error."""

    name = "scripted"

    def __init__(self, days: Mapping[date, list[FetchedPaper] | SourceError]) -> None:
        self.days = days

    def pages(self, day: date) -> Iterator[FetchResult]:
        outcome = self.days.get(day, [])
        if isinstance(outcome, SourceError):
            raise outcome
        yield FetchResult(papers=outcome)


def paper(arxiv_id: str, **fields: object) -> FetchedPaper:
    return FetchedPaper(arxiv_id=arxiv_id, title=f"Paper {arxiv_id}", **fields)  # type: ignore[arg-type]


def runs(db: Database) -> list[FetchRun]:
    with db.session() as session:
        return list(session.scalars(select(FetchRun).order_by(FetchRun.id)))


def paper_count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Paper)) or 0


def test_a_run_is_recorded_with_its_window_counts_and_duration(db: Database) -> None:
    source = Scripted({DAY: [paper("2611.00001", upvotes=3), paper("2611.00002", upvotes=1)]})

    report = fetch_window(db, source, DAY, DAY, now=NOW)

    (run,) = runs(db)
    assert (run.source, run.window_start, run.window_end) == ("scripted", DAY, DAY)
    assert (run.seen, run.new, run.updated, run.skipped, run.error) == (2, 2, 0, 0, None)
    assert run.started_at == NOW and run.finished_at is not None
    assert run.duration_seconds is not None and run.duration_seconds >= 0
    assert report.run_id == run.id


def test_backfill_goes_on_past_a_bad_day_and_an_empty_weekend(db: Database) -> None:
    friday, saturday, sunday, monday = (date(2026, 11, 20) + timedelta(days=n) for n in range(4))
    source = Scripted(
        {
            friday: [paper("2611.00001", upvotes=1)],
            saturday: [],
            sunday: SourceError("HTTP 503 from the test"),
            monday: [paper("2611.00002", upvotes=1), paper("2611.00001", upvotes=5)],
        }
    )
    progress: list[tuple[date, int]] = []

    report = fetch_window(
        db, source, friday, monday, now=NOW, on_day=lambda d, r: progress.append((d, r.seen))
    )

    assert progress == [(friday, 1), (saturday, 1), (sunday, 1), (monday, 3)]
    assert (report.seen, report.new, report.updated) == (3, 2, 1)
    assert report.error == "HTTP 503 from the test"
    (run,) = runs(db)
    assert run.error == "HTTP 503 from the test" and run.window_end == monday
    assert paper_count(db) == 2


def test_a_source_that_stays_down_stops_the_backfill(db: Database) -> None:
    start = date(2026, 11, 1)
    down = {start + timedelta(days=n): SourceError("refused") for n in range(10)}
    asked: list[date] = []

    report = fetch_window(
        db, Scripted(down), start, start + timedelta(days=9), on_day=lambda d, r: asked.append(d)
    )

    assert len(asked) == 3
    assert report.error is not None and "stopped before 2026-11-04" in report.error


def test_a_paper_met_twice_in_one_run_gets_one_snapshot(db: Database) -> None:
    source = Scripted(
        {
            DAY: [paper("2611.00001", upvotes=1)],
            DAY + timedelta(1): [paper("2611.00001", upvotes=2)],
        }
    )

    fetch_window(db, source, DAY, DAY + timedelta(1), now=NOW)

    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SignalSnapshot)) == 1


def test_repeated_items_in_one_answer_are_reported(db: Database) -> None:
    source = Scripted({DAY: [paper("2611.00001v1"), paper("2611.00001v2")]})

    report = fetch_window(db, source, DAY, DAY)

    assert report.skipped == [("2611.00001", "listed 2 times in one answer; merged")]
    assert paper_count(db) == 1


def test_hugging_face_and_arxiv_merge_into_one_row_per_paper(db: Database) -> None:
    hf = HuggingFaceDailyPapers(
        polite(
            mock_client(lambda r: httpx.Response(200, content=payload("hf_daily_papers_new_shape")))
        ),
        API_URL,
    )
    arxiv = ArxivByCategory(
        polite(
            mock_client(lambda r: httpx.Response(200, content=payload("arxiv_rss_new_shape.xml")))
        ),
        "http://rss.test",
        "http://api.test",
        ["cs.CL", "cs.LG"],
        today=lambda: date(2026, 11, 23),
    )

    fetch_window(db, hf, DAY, DAY, now=NOW)
    report = fetch_window(
        db, arxiv, date(2026, 11, 23), date(2026, 11, 23), now=NOW + timedelta(hours=1)
    )

    assert (report.new, report.updated) == (3, 1)  # 2611.00101 was already known from HF
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 3 + 3
        routing = session.scalars(select(Paper).where(Paper.arxiv_id == "2611.00101")).one()
        assert routing.title == "Routing Tokens Through Fewer Layers, Revisited"  # v2's text
        assert routing.version == 2
        assert routing.categories == ["cs.CL"]  # from arXiv
        assert routing.code_url == "https://github.com/example-org/routing"  # from HF, kept
        assert routing.listed_on == DAY  # the day HF featured it
        assert routing.announced_on is None  # a replacement is not an announcement
        assert routing.published_at == datetime(2026, 11, 18, tzinfo=UTC)  # the earliest known
        # arXiv has no upvotes, so only HF's snapshot is there.
        assert [s.upvotes for s in routing.signals] == [142]
        entmax = session.scalars(select(Paper).where(Paper.arxiv_id == "2611.10001")).one()
        assert entmax.announced_on == date(2026, 11, 23) and entmax.signals == []


def test_etags_are_stored_and_sent_back_and_a_304_writes_nothing(db: Database) -> None:
    body = payload("hf_daily_papers_new_shape")

    def route(path: str, headers: dict[str, str]) -> Answer:
        if headers.get("if-none-match") == '"v1"':
            return Answer(status=304, headers={"ETag": '"v1"'})
        return Answer(
            body=body, headers={"ETag": '"v1"', "Last-Modified": "Fri, 20 Nov 2026 08:00:00 GMT"}
        )

    settings = Settings(secret_key=TEST_SECRET, http_backoff_seconds=0.0)
    with local_server(route) as server:
        at_server = settings.model_copy(update={"hf_api_url": server.url})
        hf = _hf_for(at_server, polite_http(settings.sources), db)
        first = fetch_window(db, hf, DAY, DAY, now=NOW)
        second = fetch_window(db, hf, DAY, DAY, now=NOW + timedelta(hours=1))

    assert (first.seen, first.unchanged) == (3, 0)
    assert (second.seen, second.unchanged) == (0, 1)
    assert server.requests[1][1]["if-none-match"] == '"v1"'
    assert server.requests[1][1]["if-modified-since"] == "Fri, 20 Nov 2026 08:00:00 GMT"
    with db.session() as session:
        validator = session.scalars(select(HttpValidator)).one()
        assert validator.url.endswith("/api/daily_papers?date=2026-11-20&limit=100&p=0")
        assert session.scalar(select(func.count()).select_from(SignalSnapshot)) == 3
    assert runs(db)[1].unchanged == 1


def _hf_for(settings: Settings, http: PoliteHttp, db: Database) -> HuggingFaceDailyPapers:
    source = build_source("hf", settings, http, db)
    assert isinstance(source, HuggingFaceDailyPapers)
    return source


def test_two_fetches_at_once_on_postgresql_store_one_row_per_paper(postgres_url: str) -> None:
    db = Database(postgres_url)
    reset_schema(db)
    Base.metadata.create_all(db.engine)
    body = payload("hf_daily_papers_new_shape")
    arrived = threading.Barrier(2, timeout=10)

    def route(path: str, headers: dict[str, str]) -> Answer:
        arrived.wait()  # both fetches are in flight before either stores anything
        return Answer(body=body)

    reports: list[IngestReport] = []
    try:
        with local_server(route) as server:

            def one_fetch(hour: int) -> None:
                source = HuggingFaceDailyPapers(polite(httpx.Client()), server.url)
                reports.append(fetch_window(db, source, DAY, DAY, now=NOW + timedelta(hours=hour)))

            threads = [threading.Thread(target=one_fetch, args=(n,)) for n in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)

        assert [r.error for r in reports] == [None, None]
        assert sum(r.new for r in reports) == 3 and sum(r.updated for r in reports) == 3
        with db.session() as session:
            ids = list(session.scalars(select(Paper.arxiv_id)))
            assert sorted(ids) == ["2611.00101", "2611.00102", "2611.00103"]
            assert session.scalar(select(func.count()).select_from(SignalSnapshot)) == 6
            assert session.scalar(select(func.count()).select_from(FetchRun)) == 2
    finally:
        reset_schema(db)
        db.dispose()


def test_beat_catches_up_from_the_last_good_run(db: Database) -> None:
    settings = Settings(secret_key=TEST_SECRET)

    first = scheduled_fetch(db, settings, "sample", date(2026, 11, 20))
    broken = Scripted({date(2026, 11, 21): SourceError("down")})
    broken.name = "sample"
    fetch_window(db, broken, date(2026, 11, 21), date(2026, 11, 21))
    later = scheduled_fetch(db, settings, "sample", date(2026, 11, 23))

    assert (first.day, first.until) == (date(2026, 11, 20), date(2026, 11, 20))
    # The failed run does not count: from the last good day, which is read again, to today.
    assert (later.day, later.until) == (date(2026, 11, 20), date(2026, 11, 23))
    with db.session() as session:
        assert last_good_window_end(session, "sample") == date(2026, 11, 23)


def test_arxiv_follows_what_active_subscribers_follow_else_the_defaults(db: Database) -> None:
    settings = Settings(secret_key=TEST_SECRET, arxiv_default_categories="cs.AI, cs.CL")

    assert arxiv_categories(followed_arxiv_categories(db), settings.sources) == ["cs.AI", "cs.CL"]

    with db.session() as session:
        session.add_all(
            [
                Subscriber(
                    email="a@example.org",
                    state=SubscriberState.ACTIVE,
                    categories=["math.AG", "cs.CL"],
                ),
                Subscriber(
                    email="b@example.org",
                    state=SubscriberState.ACTIVE,
                    categories=["cs.CL", "not a category!"],
                ),
                Subscriber(
                    email="c@example.org",
                    state=SubscriberState.UNSUBSCRIBED,
                    categories=["q-bio.NC"],
                ),
            ]
        )
    assert arxiv_categories(followed_arxiv_categories(db), settings.sources) == ["cs.CL", "math.AG"]


@pytest.fixture(autouse=True)
def _no_real_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries in these tests would only slow them down."""
    monkeypatch.setattr("digest.sources.http.time.sleep", lambda seconds: None)
