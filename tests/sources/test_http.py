"""The real httpx client against a real HTTP server on 127.0.0.1: headers, timeouts, refusals."""

from __future__ import annotations

import re
import time
from datetime import date

import pytest
from sqlalchemy import func, select

from digest.errors import SourceError
from digest.settings import Settings
from digest.sources.hf import HuggingFaceDailyPapers
from digest.sources.http import make_http_client, user_agent
from digest.sources.ingest import fetch_and_store
from digest.store.db import Database
from digest.store.models import Paper
from tests.conftest import TEST_SECRET, free_port
from tests.sources.support import DAY, Answer, local_server, payload


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "secret_key": TEST_SECRET,
        "base_url": "https://digest.example.org",
        "contact": "ops@example.org",
        "http_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_user_agent_names_the_service_and_a_contact() -> None:
    with_contact = "digest/0.1.0 (+https://digest.example.org; ops@example.org)"
    assert user_agent(make_settings()) == with_contact
    assert user_agent(make_settings(contact=None)) == "digest/0.1.0 (+https://digest.example.org)"


def test_real_server_sees_our_user_agent_token_and_day() -> None:
    answer = Answer(body=payload("hf_daily_papers_new_shape"))
    with local_server(answer) as server, make_http_client(make_settings()) as client:
        result = HuggingFaceDailyPapers(client, server.url, token="hf_secret").fetch(DAY)

    assert len(result.papers) == 3
    ((path, headers),) = server.requests
    assert path == "/api/daily_papers?date=2026-11-20&limit=100&p=0"
    assert headers["user-agent"] == "digest/0.1.0 (+https://digest.example.org; ops@example.org)"
    assert headers["authorization"] == "Bearer hf_secret"


def test_slow_server_times_out_with_a_clear_error() -> None:
    settings = make_settings(http_timeout_seconds=0.3)
    with local_server(Answer(delay_seconds=10)) as server, make_http_client(settings) as client:
        started = time.monotonic()
        with pytest.raises(SourceError, match=re.escape(f"timed out reaching {server.url}/")):
            HuggingFaceDailyPapers(client, server.url).fetch(DAY)
        assert time.monotonic() - started < 3


def test_nothing_listening_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with (
        make_http_client(make_settings()) as client,
        pytest.raises(SourceError, match=re.escape(f"could not reach {url}/api/daily_papers")),
    ):
        HuggingFaceDailyPapers(client, url).fetch(DAY)


def test_html_error_page_from_a_real_server_is_refused() -> None:
    answer = Answer(status=502, body=b"<html>Bad Gateway</html>", content_type="text/html")
    with (
        local_server(answer) as server,
        make_http_client(make_settings()) as client,
        pytest.raises(SourceError, match="HTTP 502"),
    ):
        HuggingFaceDailyPapers(client, server.url).fetch(DAY)


def test_fetch_over_real_http_lands_in_the_store(db: Database) -> None:
    answer = Answer(body=payload("hf_daily_papers_new_shape"))
    with local_server(answer) as server, make_http_client(make_settings()) as client:
        report = fetch_and_store(db, HuggingFaceDailyPapers(client, server.url), DAY)

    assert (report.source, report.seen, report.new, report.updated) == ("hf", 3, 3, 0)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 3
        titles = set(session.scalars(select(Paper.title)))
        listed = set(session.scalars(select(Paper.listed_on)))
    assert "Routing Tokens Through Fewer Layers" in titles
    assert listed == {date(2026, 11, 20)}
