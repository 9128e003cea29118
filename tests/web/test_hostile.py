"""Hostile input at the web boundary, over real HTTP: refused with a page, never a 500 without
headers, never a traceback or a request's data in the log."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

import digest.web.errors
import digest.web.feedback
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from digest.store.types import utcnow
from digest.tokens import Purpose
from digest.web import create_app
from digest.web.errors import OneLineTracebacks, quiet_server_tracebacks
from digest.web.inputs import UnsafeInput, check_query, disallowed_character
from digest.web.pages import private
from digest.web.request_limits import client_network
from tests.conftest import serve_in_thread
from tests.web.support import PaperSpec, add, add_edition, token

SECURITY_HEADERS = (
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "permissions-policy",
)
PAPER = "2501.00042"
PREFERENCES = {
    "frequency": "daily",
    "send_weekday": "0",
    "timezone": "UTC",
    "send_hour": "7",
    "edition_size": "10",
}
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


@contextmanager
def serve_logged(app: ASGIApp, log: pytest.LogCaptureFixture) -> Iterator[str]:
    """The app under uvicorn, with uvicorn's own loggers (which do not propagate) captured
    along with ours."""
    log.set_level(logging.DEBUG, logger="digest")
    with serve_in_thread(app) as url:
        # uvicorn configures its loggers when it starts, so the capture is attached after.
        for name in SERVER_LOGGERS:
            logging.getLogger(name).addHandler(log.handler)
        try:
            yield url
        finally:
            for name in SERVER_LOGGERS:
                logging.getLogger(name).removeHandler(log.handler)


@dataclass
class Live:
    url: str
    settings: Settings
    reader: Subscriber
    log: pytest.LogCaptureFixture

    def token(self, purpose: Purpose) -> str:
        return token(self.settings, purpose, self.reader)

    def feedback_query(self, paper: str) -> str:
        return f"token={self.token(Purpose.FEEDBACK)}&paper={paper}&vote=more"

    def logged(self) -> str:
        """Every captured log record, message and traceback alike, as one text."""
        return "\n".join(self.log.handler.format(record) for record in self.log.records)

    def records_at(self, level: int) -> list[logging.LogRecord]:
        return [record for record in self.log.records if record.levelno >= level]


@pytest.fixture
def live(db: Database, settings: Settings, caplog: pytest.LogCaptureFixture) -> Iterator[Live]:
    """The app under uvicorn over SQLite and PostgreSQL, with one reader and one paper."""
    now = utcnow()
    add_edition(db, now.date(), now, [PaperSpec(PAPER, "Diffusion Planners", upvotes=9)])
    reader = add(db, "reader@example.com", SubscriberState.ACTIVE)
    with serve_logged(create_app(settings, db, lambda: None), caplog) as url:
        yield Live(url, settings, reader, caplog)


def assert_headers(response: httpx.Response) -> None:
    for name in SECURITY_HEADERS:
        assert name in response.headers, f"{name} missing on a {response.status_code}"


# --- (a) refused at the boundary ---------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "paper=2501.0%001",  # the NUL that gave PostgreSQL's 500
        "paper=%01",
        "paper=%7F",
        "paper=%C2%85",  # NEL, a C1 control
        "paper=%EF%BF%BF",  # U+FFFF, a noncharacter
        "pa%00per=x",  # in a key
    ],
)
def test_control_characters_in_a_query_get_the_400_page(live: Live, query: str) -> None:
    with httpx.Client(base_url=live.url) as http:
        # The feedback link's own token and vote, with the hostile parameter added.
        link = f"/feedback?token={live.token(Purpose.FEEDBACK)}&vote=more&{query}"
        response = http.get(link)

    assert response.status_code == 400
    assert "This request cannot be read" in response.text
    assert_headers(response)
    assert response.headers["cache-control"] == "no-store"
    assert "request refused on GET /feedback: the link contains" in live.logged()
    assert live.token(Purpose.FEEDBACK) not in live.logged()
    assert not live.records_at(logging.WARNING)


@pytest.mark.parametrize(
    "body",
    [
        b"email=a%00b%40example.com",
        b"email=a@example.com&topics=%1B[31m",
        b"em%00ail=a@example.com",
        b"email=a@example.com&email=b@example.com",  # a field twice
    ],
)
def test_control_characters_or_repeats_in_a_form_get_the_400_page(live: Live, body: bytes) -> None:
    with httpx.Client(base_url=live.url) as http:
        response = http.post(
            "/subscribe",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )

    assert response.status_code == 400
    assert "This request cannot be read" in response.text
    assert_headers(response)
    assert "request refused on POST /subscribe: the form" in live.logged()
    assert "example.com" not in live.logged()


def test_line_breaks_in_a_textarea_pass_the_boundary(live: Live) -> None:
    page = f"/preferences?token={live.token(Purpose.PREFERENCES)}"
    with httpx.Client(base_url=live.url) as http:
        response = http.post(page, data={**PREFERENCES, "topics": "diffusion\r\nrobot\tarms"})

    assert response.status_code == 200
    assert "Your preferences are saved" in response.text


def test_a_repeated_or_overlong_query_is_refused(live: Live) -> None:
    feedback = live.feedback_query(PAPER)
    with httpx.Client(base_url=live.url) as http:
        twice = http.get(f"/feedback?{feedback}&token=other")
        long = http.get(f"/feedback?{feedback}&pad={'x' * 5000}")

    assert twice.status_code == 400 and "names a field twice" in twice.text
    assert long.status_code == 400 and "far longer" in long.text
    assert_headers(twice)
    assert_headers(long)


@pytest.mark.parametrize("origin", ["http://[", "http://[::1", "https://[v1.x]"])
def test_an_unreadable_origin_header_is_a_refused_form_not_a_500(live: Live, origin: str) -> None:
    with httpx.Client(base_url=live.url) as http:
        response = http.post(
            "/subscribe", data={"email": "o@example.com"}, headers={"Origin": origin}
        )

    assert response.status_code == 403
    assert_headers(response)
    assert "form refused on POST /subscribe: form posted from another origin" in live.logged()


def test_a_strange_sec_fetch_site_is_refused_without_logging_it(live: Live) -> None:
    with httpx.Client(base_url=live.url) as http:
        response = http.post(
            "/subscribe", data={"email": "o@example.com"}, headers={"Sec-Fetch-Site": "evil-42"}
        )

    assert response.status_code == 403
    assert "cross-site form post (unknown value)" in live.logged()
    assert "evil-42" not in live.logged()


# --- (b) whatever fails gets the page, the headers and one clean line -------------------


def test_an_unexpected_error_is_the_500_page_with_headers_and_one_clean_line(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(session: object, arxiv_id: str) -> None:
        raise RuntimeError(f"cannot look up {arxiv_id}")

    monkeypatch.setattr(digest.web.feedback, "find_paper", explode)
    with httpx.Client(base_url=live.url) as http:
        response = http.get(f"/feedback?{live.feedback_query('SECRET-PAPER-7')}")

    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert_headers(response)
    assert response.headers["cache-control"] == "no-store"
    errors = live.records_at(logging.ERROR)
    assert [r.getMessage() for r in errors] == [
        "unexpected RuntimeError on GET /feedback (raised at test_hostile.py:"
        f"{explode.__code__.co_firstlineno + 1} in explode)"
    ]
    assert all(r.exc_info is None for r in live.log.records)
    logged = live.logged()
    assert "SECRET-PAPER-7" not in logged
    assert live.token(Purpose.FEEDBACK) not in logged
    assert "Traceback" not in logged


def test_a_nul_that_reaches_the_database_is_still_a_clean_500(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the boundary check were missing: PostgreSQL refuses the NUL, SQLite finds nothing.
    monkeypatch.setattr(digest.web.errors, "check_query", lambda query: None)
    with httpx.Client(base_url=live.url) as http:
        response = http.get(f"/feedback?{live.feedback_query('2501.0%001')}")

    assert response.status_code in (404, 500)
    assert_headers(response)
    assert "\x00" not in live.logged() and "2501.0" not in live.logged()
    assert "Traceback" not in live.logged()


# --- a client that drops its upload -----------------------------------------------------


def test_a_client_that_drops_its_upload_leaves_one_quiet_line(live: Live) -> None:
    host, port = live.url.removeprefix("http://").split(":")
    for _ in range(3):
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(
                b"POST /subscribe HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 1000\r\n\r\nemail=dropped%40example.com&top"
            )
            time.sleep(0.1)
    quiet = "client left before its request was read, on POST /subscribe"
    deadline = time.monotonic() + 5
    while live.logged().count(quiet) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)

    assert live.logged().count(quiet) == 3
    assert not live.records_at(logging.WARNING)
    assert "Traceback" not in live.logged() and "dropped" not in live.logged()
    with httpx.Client(base_url=live.url) as http:
        assert http.get("/").status_code == 200


# --- Cache-Control from the parsed query -------------------------------------------------


@pytest.mark.parametrize("key", ["%74oken", "to%6Ben", "%74%6F%6B%65%6E"])
def test_a_percent_encoded_token_key_still_gets_no_store(live: Live, key: str) -> None:
    with httpx.Client(base_url=live.url) as http:
        response = http.get(f"/unsubscribe?{key}={live.token(Purpose.UNSUBSCRIBE)}")
        landing = http.get("/")

    assert response.status_code == 200
    assert "reader@example.com" in response.text  # the handler read it as the token
    assert response.headers["cache-control"] == "no-store"
    assert "cache-control" not in landing.headers


def test_a_page_that_shows_a_token_is_not_cached() -> None:
    assert private('<a href="/preferences?token=abc">') == {"Cache-Control": "no-store"}
    assert private('<input name="csrf_token" value="abc">') == {}


# --- IPv6 clients are counted by their /64 -----------------------------------------------


def test_ipv6_clients_share_their_64s_budget(
    sqlite_db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    limited = settings.model_copy(
        update={"subscribe_limit_per_ip": 2, "subscribe_limit_per_address": 100}
    )

    def subscribe(http: httpx.Client, client: str, n: int) -> int:
        # serve_in_thread's uvicorn trusts X-Forwarded-For from 127.0.0.1, as behind a proxy.
        answer = http.post(
            "/subscribe",
            data={"email": f"v6-{n}@example.com"},
            headers={"X-Forwarded-For": client},
        )
        return answer.status_code

    with (
        serve_logged(create_app(limited, sqlite_db, lambda: None), caplog) as url,
        httpx.Client(base_url=url) as http,
    ):
        same_64 = [subscribe(http, ip, n) for n, ip in enumerate(["2001:db8::1", "2001:db8::2"])]
        third = subscribe(http, "2001:db8::ffff:3", 3)
        next_64 = subscribe(http, "2001:db8:0:1::1", 4)
        v4 = [subscribe(http, ip, 5 + n) for n, ip in enumerate(["192.0.2.1", "::ffff:192.0.2.1"])]
        mapped_third = subscribe(http, "192.0.2.1", 7)

    assert same_64 == [200, 200]
    assert third == 429
    assert next_64 == 200
    assert v4 == [200, 200]
    assert mapped_third == 429  # the IPv4-mapped address counted as its IPv4 address


@pytest.mark.parametrize(
    ("peer", "counted"),
    [
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8::2", "2001:db8::/64"),
        ("2001:db8:0:0:ffff:ffff:ffff:ffff", "2001:db8::/64"),
        ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("192.0.2.1", "192.0.2.1"),
        ("fe80::1%eth0", "fe80::/64"),
        ("testclient", "testclient"),
    ],
)
def test_client_network(peer: str, counted: str) -> None:
    assert client_network(peer) == counted


# --- the check itself --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("plain", None),
        ("Zürich 用户 🙂 \u00a0nbsp \u200dzwj", None),
        ("a\x00b", "a control character"),
        ("a\x85b", "a control character"),
        ("a\ud800b", "a broken character (a lone surrogate)"),
        ("a\udfffb", "a broken character (a lone surrogate)"),
        ("a\ufdd0b", "a character that is not text"),
        ("a\U0010ffffb", "a character that is not text"),
        ("a\nb", "a control character"),
    ],
)
def test_disallowed_character(text: str, problem: str | None) -> None:
    assert disallowed_character(text) == problem


def test_tabs_and_line_breaks_are_allowed_where_asked() -> None:
    assert disallowed_character("a\r\n\tb", frozenset("\t\n\r")) is None
    assert disallowed_character("a\r\n\x00", frozenset("\t\n\r")) == "a control character"


def test_check_query_reads_keys_as_the_handlers_do() -> None:
    check_query(b"token=abc&paper=2501.00042&vote=more")
    for bad in (b"token=a&%74oken=b", b"x=%00", b"x=" + b"y" * 5000, b"%ff%fe=\x00"):
        with pytest.raises(UnsafeInput):
            check_query(bad)


# --- the server's own log, should anything get past the guard ---------------------------


def test_the_server_log_keeps_no_traceback_of_what_escapes_the_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raise RuntimeError(f"failed on {scope['query_string'].decode()}")

    server_log = logging.getLogger("uvicorn.error")
    try:
        with serve_logged(broken, caplog) as url:
            quiet_server_tracebacks()
            with httpx.Client(base_url=url) as http:
                answer = http.get("/?token=SECRET-TOKEN-42")
    finally:
        for found in [f for f in server_log.filters if isinstance(f, OneLineTracebacks)]:
            server_log.removeFilter(found)

    assert answer.status_code == 500
    logged = "\n".join(caplog.handler.format(record) for record in caplog.records)
    assert "Exception in ASGI application (RuntimeError)" in logged
    assert "SECRET-TOKEN-42" not in logged and "Traceback" not in logged
