"""Property-based: hostile strings in every form field and query parameter of every form
endpoint, over real HTTP against the app under uvicorn on PostgreSQL (the stricter store).
No answer is a 5xx, every answer has the security headers, and the log holds no traceback
and none of what was sent."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from digest.store.types import utcnow
from digest.tokens import Purpose
from digest.web import create_app
from digest.web.inputs import query_has_token
from tests.web.support import PaperSpec, add, add_edition, token
from tests.web.test_hostile import SECURITY_HEADERS, serve_logged

# Every value sent starts with this, so any of it in a log line is easy to find.
MARK = "Qz7mark"
PAPER = "2501.00042"
TOKEN_KEYS = ("token", "%74oken")
EXAMPLES = 200
PIECES = [
    "\x00",
    "\ud800",
    "\udfff",
    "\r\n",
    "\r",
    "\n",
    "\t",
    "\x1b[31m",
    "\x7f",
    "\x85",
    "\u2028",
    "\u202e",
    "\ufeff",
    "\ufffe",
    "\U0010ffff",
    "%00",
    "%0d%0a",
    "%",
    "%zz",
    "%ED%A0%80",
    "%C0%80",
    "%FF",
    "%25",
    "%74oken=",
    "+",
    "&",
    "=",
    ";",
    "?",
    "#",
    "token=",
    "csrf_token=",
    "List-Unsubscribe=One-Click",
    "@",
    "a@example.com",
    "=?utf-8?q?a=40b?=@example.com",
    "用户@例子.广告",
    "\U0001d518\U0001d52b\U0001d526",  # Fraktur letters
    "<script>alert(1)</script>",
    "'\"",
    "../",
    "\\",
    "Europe/Berlin",
    "UTC",
    "more",
    "less",
    "weekly",
    "1e308",
    "-1",
    "99999999999999999999",
    PAPER,
]

PRINTABLE_PIECES = [piece for piece in PIECES if piece.isprintable()]
HEADERS = ["origin", "sec-fetch-site", "cookie", "x-forwarded-for", "host", "content-type"]


def hostile(longest: int) -> st.SearchStrategy[str]:
    """Hostile text up to about `longest` characters, always starting with MARK."""
    printable = st.text(st.characters(exclude_categories=["Cc", "Cs", "Co", "Cn"]), max_size=40)
    # Most values pass the boundary's character check, so the handlers' own rules are tried.
    return st.one_of(
        printable,
        printable,
        st.lists(st.sampled_from(PRINTABLE_PIECES), max_size=6).map("".join),
        st.sampled_from(PIECES),
        st.text(st.characters(categories=["Cc", "Cs", "Co", "Cn", "Zs", "Zl", "Cf"])),
        st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=8).map("".join),
        st.builds(
            lambda piece, n: piece * n,
            st.sampled_from(["x", "é", "\x00", "%", "€", "\ud800"]),
            st.integers(1, longest),
        ),
    ).map(lambda text: MARK + text)


# A form may be far over the limit (the app answers 413); a query must stay under uvicorn's
# own 16 KiB limit on a request's head, above which uvicorn answers before the app does.
form_text = hostile(20_000)
query_text = hostile(350)
header_text = st.one_of(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60).map(
        lambda text: MARK + text
    ),
    st.sampled_from(
        ["http://[", "http://[::1", "https://a:99999", "null", "same-origin", "cross-site", "["]
    ),
)

Pairs = list[tuple[str, str]]


def quote_all(text: str, raw_percent: bool) -> str:
    # Surrogates cannot be UTF-8: sent as the bytes an encoder that allows them would make.
    return quote(text, safe="%" if raw_percent else "", errors="surrogatepass")


def encode(pairs: Pairs, raw_percent: bool) -> str:
    return "&".join(f"{quote_all(k, raw_percent)}={quote_all(v, raw_percent)}" for k, v in pairs)


def multipart(pairs: Pairs) -> tuple[bytes, str]:
    boundary = "hostileBoundary9"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode(
            "utf-8", "surrogatepass"
        )
        for k, v in pairs
    ]
    return b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@dataclass
class Sent:
    """One hostile request: a form (some fields the endpoint reads, some not), a query and
    headers a browser or a proxy would send."""

    form: Pairs
    query: Pairs
    headers: Pairs
    body_kind: str
    raw_percent: bool


def requests_for(fields: list[str], query_keys: list[str]) -> st.SearchStrategy[Sent]:
    # Mostly each key once (a repeat is refused before anything else is looked at).
    known = st.dictionaries(st.sampled_from(fields), form_text).map(lambda d: list(d.items()))
    extra = st.lists(st.tuples(hostile(40), form_text), max_size=1)
    query = st.dictionaries(
        st.sampled_from([*query_keys, "%74oken", "x"]), query_text, max_size=2
    ).map(lambda d: list(d.items()))
    headers = st.lists(st.tuples(st.sampled_from(HEADERS), header_text), max_size=2)
    return st.builds(
        Sent,
        form=st.builds(lambda a, b: a + b, known, extra) if fields else extra,
        query=query,
        headers=headers,
        body_kind=st.sampled_from(["urlencoded", "urlencoded", "multipart", "none", "garbage"]),
        raw_percent=st.booleans(),
    )


@dataclass
class Target:
    """The app on PostgreSQL, one reader with valid links, and the checks on each answer."""

    http: httpx.Client
    settings: Settings
    reader: Subscriber
    log: pytest.LogCaptureFixture
    answered: int = 0

    def token(self, purpose: Purpose) -> str:
        return token(self.settings, purpose, self.reader)

    def send(self, method: str, path: str, sent: Sent, base_query: Pairs) -> None:
        query = encode([*base_query, *sent.query], sent.raw_percent)
        headers = {name: f"digest_csrf={v}" if name == "cookie" else v for name, v in sent.headers}
        content: bytes | None = None
        if method == "POST":
            if sent.body_kind == "multipart":
                content, headers["content-type"] = multipart(sent.form)
            elif sent.body_kind == "urlencoded":
                content = encode(sent.form, sent.raw_percent).encode()
                headers["content-type"] = "application/x-www-form-urlencoded"
            elif sent.body_kind == "garbage":
                content = "".join(v for _, v in sent.form).encode("utf-8", "surrogatepass")
                headers["content-type"] = "application/x-www-form-urlencoded; charset=latin-1"
        response = self.http.request(method, f"{path}?{query}", content=content, headers=headers)
        self.answered += 1
        assert response.status_code < 500, f"{method} {path}: {response.status_code}"
        for name in SECURITY_HEADERS:
            assert name in response.headers, f"{method} {path}: {name} missing"
        if query_has_token(query.encode()):
            assert response.headers.get("cache-control") == "no-store", f"{method} {path}"


@pytest.fixture
def target(
    pg_db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> Iterator[Target]:
    now = utcnow()
    add_edition(pg_db, now.date(), now, [PaperSpec(PAPER, "Diffusion Planners", upvotes=9)])
    reader = add(pg_db, "reader@example.com", SubscriberState.ACTIVE)
    # Room for every example: the limits are tested elsewhere, here they would hide the form.
    roomy = settings.model_copy(
        update={"subscribe_limit_per_ip": 1_000_000, "subscribe_limit_per_address": 1_000_000}
    )
    with (
        serve_logged(create_app(roomy, pg_db, lambda: None), caplog) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        yield Target(http, roomy, reader, caplog)


ENDPOINTS: list[tuple[str, str, list[str], Purpose | None]] = [
    ("POST", "/subscribe", ["email", "topics", "timezone", "website", "csrf_token"], None),
    ("GET", "/confirm", [], Purpose.CONFIRM),
    ("POST", "/confirm", ["csrf_token"], Purpose.CONFIRM),
    ("POST", "/confirm/resend", ["csrf_token"], Purpose.CONFIRM),
    ("GET", "/unsubscribe", [], Purpose.UNSUBSCRIBE),
    ("POST", "/unsubscribe", ["List-Unsubscribe", "csrf_token"], Purpose.UNSUBSCRIBE),
    ("POST", "/resubscribe", ["csrf_token"], Purpose.UNSUBSCRIBE),
    ("GET", "/preferences", [], Purpose.PREFERENCES),
    (
        "POST",
        "/preferences",
        [
            "topics",
            "categories",
            "authors",
            "frequency",
            "send_weekday",
            "timezone",
            "send_hour",
            "edition_size",
            "muted",
            "muted_authors",
            "action",
        ],
        Purpose.PREFERENCES,
    ),
    ("GET", "/preferences/export", [], Purpose.PREFERENCES),
    # Every value starts with MARK, so the tick box never says "yes": the reader stays.
    ("POST", "/preferences/delete", ["confirm_delete", "csrf_token"], Purpose.PREFERENCES),
    ("POST", "/preferences/seeds", ["papers", "skip_bad", "csrf_token"], Purpose.PREFERENCES),
    ("POST", "/preferences/seeds/remove", ["seed", "csrf_token"], Purpose.PREFERENCES),
    ("POST", "/preferences/learning", ["learn", "csrf_token"], Purpose.PREFERENCES),
    ("POST", "/preferences/forget", ["confirm_forget", "csrf_token"], Purpose.PREFERENCES),
    ("GET", "/feedback", [], Purpose.FEEDBACK),
    ("POST", "/feedback", ["csrf_token"], Purpose.FEEDBACK),
]


@pytest.mark.parametrize(
    ("method", "path", "fields", "purpose"),
    ENDPOINTS,
    ids=[f"{method} {path}" for method, path, *_ in ENDPOINTS],
)
def test_hostile_strings_never_break_a_form_endpoint(
    target: Target, method: str, path: str, fields: list[str], purpose: Purpose | None
) -> None:
    link = target.token(purpose) if purpose is not None else None
    query_keys = ["token", "paper", "vote"] if path == "/feedback" else ["token"]

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(sent=requests_for(fields, query_keys), valid_link=st.booleans())
    def hostile_request(sent: Sent, valid_link: bool) -> None:
        # Half the time behind a valid link, so the hostile values reach the handler's work.
        base: Pairs = []
        if link is not None and valid_link:
            base = [("token", link)]
            if path == "/feedback":
                base += [("paper", PAPER), ("vote", "more")]
        if base:  # keep the valid token; the other parameters may replace the link's own
            sent = replace(sent, query=[(k, v) for k, v in sent.query if k not in TOKEN_KEYS])
        given_keys = {key for key, _ in sent.query}
        target.send(method, path, sent, [(k, v) for k, v in base if k not in given_keys])

    hostile_request()

    assert target.answered >= EXAMPLES // 2
    logged = "\n".join(target.log.handler.format(r) for r in target.log.records)
    assert "Traceback" not in logged
    assert not [r for r in target.log.records if r.levelno >= logging.ERROR]
    assert MARK not in logged
    assert "reader@example.com" not in logged
    for purpose_ in Purpose:
        assert target.token(purpose_) not in logged
