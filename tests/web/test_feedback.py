"""/rate/<token>/<vote>/<paper> (and /feedback?token=&paper=&vote=, the form in emails sent
before): a GET shows the paper and never records; the POST records."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from digest import links
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Feedback, Subscriber, SubscriberState
from digest.store.types import utcnow
from digest.tokens import Purpose, make_token
from tests.web.support import PaperSpec, add, add_edition, browser_post, tampered


@pytest.fixture
def reader(sqlite_db: Database) -> Subscriber:
    now = utcnow()
    add_edition(
        sqlite_db,
        now.date(),
        now,
        [PaperSpec("2501.00042", "Diffusion Planners for Robot Arms", upvotes=9)],
    )
    return add(sqlite_db, "reader@example.com", SubscriberState.ACTIVE)


def link(
    settings: Settings, reader: Subscriber, more: bool = True, paper: str = "2501.00042"
) -> str:
    url = links.SubscriberLinks.make(settings, reader.id, reader.email).feedback(paper, more)
    return url.removeprefix(settings.base_url)


def old_link(
    settings: Settings, reader: Subscriber, more: bool = True, paper: str = "2501.00042"
) -> str:
    """The link as emails sent before the short form carry it."""
    token = make_token(settings.secret_key, Purpose.FEEDBACK, reader.id, reader.email)
    vote = "more" if more else "less"
    return f"/feedback?{urlencode({'token': token, 'paper': paper, 'vote': vote})}"


def retagged(url: str) -> str:
    """The short link with one character of its tag changed."""
    head, tag = url.split(".", 1)
    return f"{head}.{'B' if tag[0] == 'A' else 'A'}{tag[1:]}"


FORMS = pytest.mark.parametrize("make_link", [link, old_link], ids=["short", "old"])


def ratings(db: Database) -> list[int]:
    with db.session() as session:
        return list(session.scalars(select(Feedback.rating)))


@FORMS
def test_get_shows_the_paper_and_a_button_but_records_nothing(
    sqlite_db: Database,
    sqlite_client: TestClient,
    settings: Settings,
    reader: Subscriber,
    make_link: Callable[..., str],
) -> None:
    response = sqlite_client.get(make_link(settings, reader))

    assert response.status_code == 200
    assert "Diffusion Planners for Robot Arms" in response.text
    assert "Yes, more like this</button>" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert ratings(sqlite_db) == []


@FORMS
def test_post_records_and_a_second_vote_replaces_the_first(
    sqlite_db: Database,
    sqlite_client: TestClient,
    settings: Settings,
    reader: Subscriber,
    make_link: Callable[..., str],
) -> None:
    more = make_link(settings, reader, more=True)
    less = make_link(settings, reader, more=False)
    # The page's button posts back to the link it was opened from.
    assert f'action="{html.escape(more)}"' in sqlite_client.get(more).text

    first = browser_post(sqlite_client, more, more)
    assert first.status_code == 200
    assert "Noted: more papers like" in first.text
    assert ratings(sqlite_db) == [1]

    browser_post(sqlite_client, less, less)
    assert ratings(sqlite_db) == [-1]


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        (lambda url: url.replace("vote=more", "vote=lots"), 400, "neither more nor less"),
        (lambda url: url.replace("paper=2501.00042", "paper=9999.99999"), 404, "do not know"),
        (lambda url: url.replace("paper=2501.00042", "paper=" + "x" * 500), 404, "do not know"),
        (lambda url: url.replace("token=", "token=" + "A"), 400, "This link does not work"),
        (lambda url: url.replace("/more/", "/lots/"), 400, "neither more nor less"),
        (lambda url: url.replace("/2501.00042", "/9999.99999"), 404, "do not know"),
        (lambda url: url.replace("/2501.00042", "/" + "x" * 500), 404, "do not know"),
        (lambda url: url.replace("/rate/", "/rate/1"), 400, "This link does not work"),
        (lambda url: retagged(url), 400, "This link does not work"),
    ],
    ids=[
        "bad vote",
        "unknown paper",
        "over-long paper",
        "tampered token",
        "short, bad vote",
        "short, unknown paper",
        "short, over-long paper",
        "short, other subscriber",
        "short, tampered tag",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_links_are_explained_and_record_nothing(
    sqlite_db: Database,
    sqlite_client: TestClient,
    settings: Settings,
    reader: Subscriber,
    change: object,
    status: int,
    text: str,
    method: str,
    request: pytest.FixtureRequest,
) -> None:
    assert callable(change)
    original = (link if "short" in request.node.callspec.id else old_link)(settings, reader)
    url = change(original)
    assert url != original

    response = sqlite_client.request(method, url)

    assert response.status_code == status
    assert text in response.text
    assert ratings(sqlite_db) == []


def test_unsubscribe_token_is_not_a_feedback_token(
    sqlite_client: TestClient, settings: Settings, reader: Subscriber
) -> None:
    other = links.unsubscribe_url(settings, reader.id, reader.email).split("token=")[1]

    response = sqlite_client.get(f"/feedback?token={other}&paper=2501.00042&vote=more")

    assert response.status_code == 400
    assert tampered(other) != other


def test_a_short_link_is_neither_cached_nor_indexed(
    sqlite_client: TestClient, settings: Settings, reader: Subscriber
) -> None:
    for url in (link(settings, reader), link(settings, reader)[:-1] + "9"):
        response = sqlite_client.get(url)
        assert response.headers["cache-control"] == "no-store", url
        assert response.headers["x-robots-tag"] == "noindex, nofollow", url


def test_an_old_arxiv_id_with_a_slash_round_trips(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings, reader: Subscriber
) -> None:
    earlier = utcnow() - timedelta(days=1)
    add_edition(sqlite_db, earlier.date(), earlier, [PaperSpec("hep-th/9901001", "Old", 3)])
    url = link(settings, reader, paper="hep-th/9901001")
    assert url.endswith("/more/hep-th/9901001")
    assert ">Old<" in sqlite_client.get(url).text
    assert browser_post(sqlite_client, url, url).status_code == 200
    assert ratings(sqlite_db) == [1]


def test_a_vote_while_learning_is_off_is_kept_and_the_page_says_it_counts_later(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings, reader: Subscriber
) -> None:
    more = link(settings, reader, more=True)
    learning = browser_post(sqlite_client, more, more)
    with sqlite_db.session() as session:
        session.get_one(Subscriber, reader.id).learn_from_ratings = False

    off = browser_post(sqlite_client, more, more)

    assert 'id="learning-off"' not in learning.text
    assert "Learning from your ratings is off: this vote is kept" in off.text
    assert ratings(sqlite_db) == [1]
