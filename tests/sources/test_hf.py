"""The Hugging Face daily papers source, against payloads we wrote and an in-process transport."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime

import httpx
import pytest

from digest.errors import SourceError
from digest.sources.base import FetchResult
from digest.sources.hf import HuggingFaceDailyPapers
from tests.sources.support import API_URL, DAY, json_answer, mock_client, payload


def fetch(body: bytes, day: date = DAY, token: str | None = None) -> FetchResult:
    source = HuggingFaceDailyPapers(mock_client(json_answer(body)), API_URL, token)
    return source.fetch(day)


def test_new_shape_gives_every_field_a_reader_sees() -> None:
    result = fetch(payload("hf_daily_papers_new_shape"))

    assert result.skipped == []
    assert [p.arxiv_id for p in result.papers] == ["2611.00101", "2611.00102", "2611.00103"]
    routing = result.papers[0]
    assert routing.title == "Routing Tokens Through Fewer Layers"
    assert routing.abstract == "We route easy tokens around the middle of the network. It works."
    assert routing.authors == ["Ada Quinlan", "Bo Chen"]
    assert routing.url == "https://arxiv.org/abs/2611.00101"
    assert routing.pdf_url == "https://arxiv.org/pdf/2611.00101"
    assert routing.summary == "Easy tokens skip layers, saving compute."
    assert routing.keywords == ["token routing", "efficiency"]
    assert routing.code_url == "https://github.com/example-org/routing"
    assert routing.stars == 310
    assert routing.project_url == "https://routing.example.org/"
    assert routing.thumbnail_url == (
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2611.00101.png"
    )
    assert (routing.upvotes, routing.comments) == (142, 7)
    assert routing.published_at == datetime(2026, 11, 18, tzinfo=UTC)
    assert routing.listed_on == date(2026, 11, 20)


def test_unsafe_links_are_dropped_and_versions_stripped() -> None:
    plots, speech = fetch(payload("hf_daily_papers_new_shape")).papers[1:]

    assert plots.project_url is None  # it was javascript:alert(1)
    assert plots.code_url is None and plots.stars is None
    assert speech.arxiv_id == "2611.00103"  # the payload said 2611.00103v2
    assert speech.url == "https://arxiv.org/abs/2611.00103"
    assert speech.stars == 0


def test_old_shape_without_ai_fields_still_parses() -> None:
    result = fetch(payload("hf_daily_papers_old_shape"), day=date(2023, 11, 8))

    assert result.skipped == []
    first, second = result.papers
    assert first.title == "Instruction Tuning With Fewer Examples"
    assert first.summary is None and first.keywords == []
    assert first.code_url is None and first.stars is None
    assert (first.upvotes, first.comments) == (25, 2)
    assert first.listed_on == date(2023, 11, 8)
    # No submittedOnDailyAt: it was listed on the day we asked for.
    assert second.listed_on == date(2023, 11, 8)
    assert second.thumbnail_url is None


def test_broken_items_are_skipped_with_a_logged_reason(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="digest.sources.hf"):
        result = fetch(payload("hf_daily_papers_broken"))

    assert [p.arxiv_id for p in result.papers] == ["2611.00203", "2611.00204"]
    reasons = dict(result.skipped)
    assert reasons == {
        "item #1": "not an object but str",
        "item #2": "not an object but NoneType",
        "A Paper Without An Id": "no arXiv id",
        "not-an-arxiv-id!": "'not-an-arxiv-id!' is not an arXiv id",
        "2611.00201": "no title",
        "Numeric Id": "no arXiv id",
    }
    logged = [r.getMessage() for r in caplog.records if r.name == "digest.sources.hf"]
    assert len(logged) == 6
    assert any("2611.00201" in line and "no title" in line for line in logged)


def test_fields_of_the_wrong_type_are_dropped_one_by_one() -> None:
    wrong, good = fetch(payload("hf_daily_papers_broken")).papers

    assert wrong.title == "Every Field Has The Wrong Type"
    assert wrong.abstract == "" and wrong.authors == [] and wrong.keywords == []
    assert wrong.summary is None
    assert (wrong.upvotes, wrong.comments, wrong.stars) == (0, 0, None)
    assert wrong.code_url is None and wrong.project_url is None and wrong.thumbnail_url is None
    assert wrong.published_at is None
    assert wrong.listed_on == DAY  # its own day was a number, so the asked-for day stands

    assert good.authors == ["Ines Duarte", "Jae Kim", "Kofi Mensah"]
    assert (good.upvotes, good.stars) == (6, 15)
    assert good.published_at == datetime(2026, 11, 19, tzinfo=UTC)


def test_request_names_the_day_and_sends_the_token_only_when_set() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    HuggingFaceDailyPapers(mock_client(handler), API_URL + "/").fetch(DAY)
    HuggingFaceDailyPapers(mock_client(handler), API_URL, token="hf_secret").fetch(DAY)

    anonymous, authorised = seen
    assert anonymous.url.path == "/api/daily_papers"
    assert dict(anonymous.url.params) == {"date": "2026-11-20", "limit": "100", "p": "0"}
    assert "authorization" not in anonymous.headers
    assert authorised.headers["authorization"] == "Bearer hf_secret"


def test_an_empty_day_is_not_an_error() -> None:
    assert fetch(b"[]") == FetchResult(papers=[], skipped=[])


def _raise(error: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "expected"),
    [
        (
            500,
            b"Internal Server Error",
            "text/plain",
            "HTTP 500 from http://hf.test/api/daily_papers",
        ),
        (503, b"", "text/plain", "HTTP 503"),
        (404, b'{"error": "not found"}', "application/json", "HTTP 404"),
        (
            200,
            b"<!doctype html><html><body>Sign in</body></html>",
            "text/html",
            "is not valid JSON (text/html)",
        ),
        (200, payload("hf_daily_papers_new_shape")[:700], "application/json", "is not valid JSON"),
        (
            200,
            b'{"error": "Invalid date"}',
            "application/json",
            "expected a list of papers from http://hf.test/api/daily_papers?date=2026-11-20",
        ),
        (200, b'"just a string"', "application/json", "got a JSON str"),
    ],
)
def test_unusable_answers_raise_one_clear_line(
    status: int, body: bytes, content_type: str, expected: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Content-Type": content_type})

    with pytest.raises(SourceError) as caught:
        HuggingFaceDailyPapers(mock_client(handler), API_URL).fetch(DAY)

    message = str(caught.value)
    assert message.startswith("Hugging Face daily papers: ")
    assert expected in message
    assert "\n" not in message


def test_rate_limit_says_when_to_retry_and_how_to_raise_the_limit() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "30"}, text="slow down")

    with pytest.raises(SourceError, match=r"HTTP 429 .*retry after 30 s.*DIGEST_HF_TOKEN"):
        HuggingFaceDailyPapers(mock_client(handler), API_URL).fetch(DAY)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ReadTimeout("read timed out"), "timed out reaching http://hf.test/api/daily_papers"),
        (httpx.ConnectTimeout("connect timed out"), "timed out"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "could not reach"),
        (httpx.RemoteProtocolError("peer closed connection"), "peer closed connection"),
    ],
)
def test_network_failures_raise_source_error(error: Exception, expected: str) -> None:
    client = httpx.Client(transport=_raise(error))

    with pytest.raises(SourceError, match=expected):
        HuggingFaceDailyPapers(client, API_URL).fetch(DAY)


def test_error_message_never_shows_the_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "Invalid credentials"})

    with pytest.raises(SourceError) as caught:
        HuggingFaceDailyPapers(mock_client(handler), API_URL, token="hf_secret").fetch(DAY)
    assert "HTTP 401" in str(caught.value)
    assert "hf_secret" not in str(caught.value)


def test_a_flat_item_without_the_paper_wrapper_is_read_too() -> None:
    flat = [{"id": "2611.00301", "title": "Flat", "upvotes": 2, "numComments": 1}]

    (paper,) = fetch(json.dumps(flat).encode()).papers

    assert (paper.arxiv_id, paper.title, paper.upvotes, paper.comments) == (
        "2611.00301",
        "Flat",
        2,
        1,
    )
