"""Every number a request carries is read by one strict rule (ASCII digits, bounded length):
hostile ones get a clear answer or the default, never a 500, and never a surprising value."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.text import MAX_NUMBER_DIGITS, whole_number
from digest.tokens import Purpose
from digest.web import create_app
from digest.web.inputs import MAX_QUERY_BYTES, announces_more_than
from tests.conftest import serve_in_thread
from tests.web.admin_support import OPERATOR, with_admin
from tests.web.support import add, subscriber, token

# "²" and "٣" pass str.isdigit(); int() takes "٣", "+1" and " 1", and refuses 4,301 digits.
HOSTILE = ["²", "٣", "١٢", "+1", "-1", "1e3", "1_0", "0x1", "1.0", "9" * 5000, "", " "]
PREFERENCES = {
    "topics": "",
    "categories": "",
    "authors": "",
    "frequency": "weekly",
    "send_weekday": "2",
    "timezone": "UTC",
    "send_hour": "7",
    "edition_size": "10",
}


@pytest.fixture
def live(sqlite_db: Database, settings: Settings) -> Iterator[httpx.Client]:
    app = create_app(with_admin(settings), sqlite_db, lambda: None)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


@pytest.mark.parametrize("value", HOSTILE)
def test_the_dashboard_ignores_a_released_count_that_is_not_a_number(
    live: httpx.Client, value: str
) -> None:
    page = live.get("/admin", params={"released": value}, headers=OPERATOR)
    if len(value) > MAX_QUERY_BYTES:
        assert page.status_code == 400  # the link is far longer than any we send
    else:
        assert page.status_code == 200
        assert "Released" not in page.text


def test_the_dashboard_shows_a_released_count(live: httpx.Client) -> None:
    page = live.get("/admin", params={"released": "7"}, headers=OPERATOR)
    assert page.status_code == 200
    assert "7" in page.text.split("Released", 1)[1][:200]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (field, value)
        for field in ("send_hour", "edition_size", "send_weekday")
        for value in HOSTILE
        # An empty weekday keeps the stored one: the page disables it for a daily reader.
        if (field, value) != ("send_weekday", "")
    ],
)
def test_preferences_refuse_a_number_that_is_not_ascii_digits(
    live: httpx.Client, sqlite_db: Database, settings: Settings, field: str, value: str
) -> None:
    reader = add(sqlite_db, "numbers@example.org", SubscriberState.ACTIVE)
    link = f"/preferences?token={token(settings, Purpose.PREFERENCES, reader)}"
    answer = live.post(link, data={**PREFERENCES, field: value, "action": "save"})
    assert answer.status_code == 422, answer.status_code
    assert 'role="alert"' in answer.text
    row = subscriber(sqlite_db, "numbers@example.org")
    assert (row.send_hour, row.edition_size, row.frequency.value) == (7, 10, "daily")


@pytest.mark.parametrize("value", ["²", "+1", "1e3", "2024-01-0²", "9" * 5000, ""])
def test_dates_in_requests_never_fail_the_server(live: httpx.Client, value: str) -> None:
    for answer in (
        live.get(f"/archive/{value}"),
        live.get("/rate", params={"token": "x", "edition": value}),
        live.post("/admin/release", data={"edition": value}, headers=OPERATOR),
    ):
        assert answer.status_code < 500, (answer.request.url, answer.status_code)


def test_whole_number_takes_only_ascii_digits() -> None:
    assert whole_number("0") == 0
    assert whole_number("0042") == 42
    assert whole_number("9" * MAX_NUMBER_DIGITS) == int("9" * MAX_NUMBER_DIGITS)
    for value in HOSTILE:
        assert whole_number(value) is None, value
    assert whole_number("9" * (MAX_NUMBER_DIGITS + 1)) is None


def test_a_content_length_is_read_by_the_same_rule() -> None:
    assert announces_more_than("101", 100)
    assert not announces_more_than("100", 100)
    assert announces_more_than("9" * 5000, 100)  # more digits than any limit
    assert not announces_more_than("0" * 5000 + "5", 100)
    for value in ("²", "٣", "+1", "-1", "1e3", ""):
        assert not announces_more_than(value, 100), value
