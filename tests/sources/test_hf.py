"""The Hugging Face daily papers source, against payloads we wrote and an in-process transport."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from digest.errors import SourceError
from digest.papers import Validator
from digest.sources.base import FetchResult, collect
from digest.sources.hf import HuggingFaceDailyPapers, organisation
from tests.sources.support import (
    API_URL,
    DAY,
    Pauses,
    json_answer,
    mock_client,
    payload,
    polite,
)


def hf(
    handler: Callable[[httpx.Request], httpx.Response],
    token: str | None = None,
    attempts: int = 1,
    pauses: Pauses | None = None,
    **options: Any,
) -> HuggingFaceDailyPapers:
    http = polite(mock_client(handler), attempts=attempts, pauses=pauses)
    return HuggingFaceDailyPapers(http, API_URL, token, **options)


def fetch(body: bytes, day: date = DAY, token: str | None = None) -> FetchResult:
    return collect(hf(json_answer(body), token), day)


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
    assert routing.organisation == "Example Lab"  # the full name over the short one
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
    assert first.organisation is None and second.organisation is None


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
    assert wrong.organisation is None
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

    collect(HuggingFaceDailyPapers(polite(mock_client(handler)), API_URL + "/"), DAY)
    collect(hf(handler, token="hf_secret"), DAY)

    anonymous, authorised = seen
    assert anonymous.url.path == "/api/daily_papers"
    assert dict(anonymous.url.params) == {"date": "2026-11-20", "limit": "100", "p": "0"}
    assert len(seen) == 2  # a short first page: no second request
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
        collect(hf(handler), DAY)

    message = str(caught.value)
    assert message.startswith("Hugging Face daily papers: ")
    assert expected in message
    assert "\n" not in message


def test_rate_limit_says_when_to_retry_and_how_to_raise_the_limit() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "30"}, text="slow down")

    with pytest.raises(SourceError, match=r"HTTP 429 .*retry after 30 s.*DIGEST_HF_TOKEN"):
        collect(hf(handler), DAY)


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
        collect(HuggingFaceDailyPapers(polite(client, attempts=1), API_URL), DAY)


def test_error_message_never_shows_the_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "Invalid credentials"})

    with pytest.raises(SourceError) as caught:
        collect(hf(handler, token="hf_secret"), DAY)
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


def items(first: int, count: int) -> list[dict[str, Any]]:
    return [
        {"paper": {"id": f"2611.{n:05d}", "title": f"Paper {n}", "upvotes": n}, "numComments": 1}
        for n in range(first, first + count)
    ]


def paged(pages: list[list[dict[str, Any]]], seen: list[httpx.Request]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = int(request.url.params["p"])
        return httpx.Response(200, json=pages[page] if page < len(pages) else [])

    return handler


def test_every_page_of_a_day_is_read_until_a_short_page() -> None:
    seen: list[httpx.Request] = []
    source = hf(paged([items(1, 2), items(3, 2), items(5, 1)], seen), page_size=2)

    result = collect(source, DAY)

    assert [p.arxiv_id for p in result.papers] == [f"2611.{n:05d}" for n in range(1, 6)]
    assert [dict(r.url.params) for r in seen] == [
        {"date": "2026-11-20", "limit": "2", "p": str(page)} for page in range(3)
    ]


def test_a_full_last_page_costs_one_empty_request() -> None:
    seen: list[httpx.Request] = []

    result = collect(hf(paged([items(1, 2), items(3, 2)], seen), page_size=2), DAY)

    assert len(result.papers) == 4 and len(seen) == 3


def test_an_api_that_ignores_paging_is_not_read_forever(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[httpx.Request] = []

    def same_page(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=items(1, 2))

    with caplog.at_level(logging.WARNING, logger="digest.sources.hf"):
        result = collect(hf(same_page, page_size=2), DAY)

    assert len(result.papers) == 2 and len(calls) == 2
    assert "ignores paging" in caplog.text


def test_a_cut_short_answer_keeps_its_complete_items_then_fails() -> None:
    body = json.dumps(items(1, 3)).encode()
    cut = body[: body.index(b'"2611.00003"') + 5]  # inside the third item
    pages: list[FetchResult] = []

    with pytest.raises(SourceError, match="kept the 2 complete items"):
        pages.extend(hf(json_answer(cut)).pages(DAY))

    (page,) = pages
    assert [p.arxiv_id for p in page.papers] == ["2611.00001", "2611.00002"]
    assert page.validator is None  # never "not modified" on a page we could not read whole


def test_bytes_that_are_not_utf8_are_replaced_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    body = b'[{"paper": {"id": "2611.00009", "title": "Caf\xe9 Models", "upvotes": 1}}]'

    with caplog.at_level(logging.WARNING, logger="digest.sources.hf"):
        (paper,) = fetch(body).papers

    assert paper.title == "Caf\ufffd Models"
    assert "not valid UTF-8" in caplog.text


def test_429_is_retried_after_the_time_the_server_asks() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(503),
            httpx.Response(200, json=items(1, 1)),
        ]
    )
    pauses = Pauses()

    result = collect(hf(lambda request: next(answers), attempts=4, pauses=pauses), DAY)

    assert len(result.papers) == 1
    first, second = pauses.seconds
    assert first >= 7  # Retry-After is a floor
    assert 1 <= second <= 2  # exponential backoff, second attempt: 2 s with jitter


def test_a_retry_after_beyond_our_patience_gives_up_at_once() -> None:
    calls: list[httpx.Request] = []

    def limited(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(429, headers={"Retry-After": "3600"})

    with pytest.raises(SourceError, match="retry after 3600 s"):
        collect(hf(limited, attempts=4), DAY)
    assert len(calls) == 1


def test_timeouts_are_retried_with_growing_pauses_then_reported() -> None:
    pauses = Pauses()

    with pytest.raises(SourceError, match="timed out reaching"):
        collect(hf(_raise_in(httpx.ReadTimeout("slow")), attempts=4, pauses=pauses), DAY)

    assert len(pauses.seconds) == 3
    assert [0.5, 1, 2] <= pauses.seconds <= [1, 2, 4]


def _raise_in(error: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


def test_an_answer_larger_than_the_cap_is_refused() -> None:
    huge = json.dumps(items(1, 500)).encode()
    source = HuggingFaceDailyPapers(polite(mock_client(json_answer(huge)), attempts=1), API_URL)
    source.http.max_bytes = 10_000

    with pytest.raises(SourceError, match="larger than 10000 bytes"):
        collect(source, DAY)


def test_conditional_request_and_not_modified_page() -> None:
    seen: list[httpx.Request] = []
    stored = Validator("unused", '"etag-1"', "Fri, 20 Nov 2026 08:00:00 GMT", items=2)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.params["p"] == "0":
            return httpx.Response(304)
        return httpx.Response(200, json=items(3, 1), headers={"ETag": '"etag-2"'})

    source = hf(handler, page_size=2, validators=lambda url: stored if "p=0" in url else None)
    pages = list(source.pages(DAY))

    assert seen[0].headers["if-none-match"] == '"etag-1"'
    assert seen[0].headers["if-modified-since"] == "Fri, 20 Nov 2026 08:00:00 GMT"
    assert "if-none-match" not in seen[1].headers
    assert pages[0].unchanged and pages[0].papers == []
    # The stored page was full, so the next page was still asked for, and its ETag kept.
    assert [p.arxiv_id for p in pages[1].papers] == ["2611.00003"]
    assert pages[1].validator is not None and pages[1].validator.etag == '"etag-2"'
    assert pages[1].validator.url.endswith("p=1")


def test_organisation_is_its_full_name_else_its_short_one() -> None:
    assert organisation({"_id": "o1", "name": "caltech", "fullname": "Caltech"}) == "Caltech"
    assert organisation({"name": "umich", "fullname": 7}) == "umich"
    assert organisation("Example Lab") is None and organisation(None) is None
