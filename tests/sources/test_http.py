"""The real httpx client against a real HTTP server on 127.0.0.1: headers, timeouts, refusals."""

from __future__ import annotations

import re
import time
from datetime import date

import pytest
from sqlalchemy import func, select

from digest.errors import SourceError
from digest.pipeline.fetch import fetch_and_store
from digest.settings import Settings
from digest.sources.base import collect
from digest.sources.hf import HuggingFaceDailyPapers
from digest.sources.http import PoliteHttp, polite_http, user_agent
from digest.store.db import Database
from digest.store.models import Paper
from tests.conftest import TEST_SECRET, free_port
from tests.sources.support import DAY, Answer, local_server, payload


def http(**overrides: object) -> PoliteHttp:
    return polite_http(make_settings(**overrides).sources)


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "secret_key": TEST_SECRET,
        "base_url": "https://digest.example.org",
        "contact": "ops@example.org",
        "http_timeout_seconds": 5.0,
        "http_backoff_seconds": 0.01,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_user_agent_names_the_service_and_a_contact() -> None:
    with_contact = "digest/0.1.0 (+https://digest.example.org; ops@example.org)"
    assert user_agent(make_settings().sources) == with_contact
    assert (
        user_agent(make_settings(contact=None).sources)
        == "digest/0.1.0 (+https://digest.example.org)"
    )


def test_real_server_sees_our_user_agent_token_and_day() -> None:
    answer = Answer(body=payload("hf_daily_papers_new_shape"))
    with local_server(answer) as server:
        result = collect(HuggingFaceDailyPapers(http(), server.url, token="hf_secret"), DAY)

    assert len(result.papers) == 3
    ((path, headers),) = server.requests
    assert path == "/api/daily_papers?date=2026-11-20&limit=100&p=0"
    assert headers["user-agent"] == "digest/0.1.0 (+https://digest.example.org; ops@example.org)"
    assert headers["authorization"] == "Bearer hf_secret"


def test_slow_server_times_out_with_a_clear_error() -> None:
    with local_server(Answer(delay_seconds=10)) as server:
        started = time.monotonic()
        with pytest.raises(SourceError, match=re.escape(f"timed out reaching {server.url}/")):
            collect(HuggingFaceDailyPapers(http(http_timeout_seconds=0.3), server.url), DAY)
        assert time.monotonic() - started < 3
    assert len(server.requests) == 4  # the first try and three retries


def test_nothing_listening_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SourceError, match=re.escape(f"could not reach {url}/api/daily_papers")):
        collect(HuggingFaceDailyPapers(http(), url), DAY)


def test_html_error_page_from_a_real_server_is_refused() -> None:
    answer = Answer(status=502, body=b"<html>Bad Gateway</html>", content_type="text/html")
    with local_server(answer) as server, pytest.raises(SourceError, match="HTTP 502"):
        collect(HuggingFaceDailyPapers(http(), server.url), DAY)


def test_fetch_over_real_http_lands_in_the_store(db: Database) -> None:
    answer = Answer(body=payload("hf_daily_papers_new_shape"))
    with local_server(answer) as server:
        report = fetch_and_store(db, HuggingFaceDailyPapers(http(), server.url), DAY)

    assert (report.source, report.seen, report.new, report.updated) == ("hf", 3, 3, 0)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 3
        titles = set(session.scalars(select(Paper.title)))
        listed = set(session.scalars(select(Paper.listed_on)))
    assert "Routing Tokens Through Fewer Layers" in titles
    assert listed == {date(2026, 11, 20)}


def test_real_server_pages_and_recovers_from_a_503() -> None:
    pages = {
        "0": b'[{"paper": {"id": "2611.00001", "title": "One"}}, '
        b'{"paper": {"id": "2611.00002", "title": "Two"}}]',
        "1": b'[{"paper": {"id": "2611.00003", "title": "Three"}}]',
    }
    failed_once: list[str] = []

    def route(path: str, headers: dict[str, str]) -> Answer:
        page = path.rsplit("p=", 1)[1]
        if page == "1" and not failed_once:
            failed_once.append(page)
            return Answer(status=503, body=b"busy", headers={"Retry-After": "0"})
        return Answer(body=pages[page])

    with local_server(route) as server:
        source = HuggingFaceDailyPapers(http(), server.url, page_size=2)
        result = collect(source, DAY)

    assert [p.title for p in result.papers] == ["One", "Two", "Three"]
    assert [path for path, _ in server.requests] == [
        "/api/daily_papers?date=2026-11-20&limit=2&p=0",
        "/api/daily_papers?date=2026-11-20&limit=2&p=1",
        "/api/daily_papers?date=2026-11-20&limit=2&p=1",
    ]


def test_a_huge_answer_from_a_real_server_is_cut_off() -> None:
    answer = Answer(body=b"[" + b" " * 50_000 + b"]")
    with local_server(answer) as server, pytest.raises(SourceError, match="larger than 4096"):
        collect(HuggingFaceDailyPapers(http(http_max_bytes=4096), server.url), DAY)
