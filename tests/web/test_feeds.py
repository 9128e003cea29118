"""The Atom feeds: /archive.atom (public) and /feed.atom?token=… (a subscriber's own edition)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from xml.etree import ElementTree

import feedparser  # type: ignore[import-untyped]
import pytest
from starlette.testclient import TestClient

from digest import links
from digest.pipeline.preview import preview_edition
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.store.types import utcnow
from tests.web.support import PaperSpec, add, add_edition, browser_post, set_fields

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
EMAIL_LIKE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")

PAPERS = [
    PaperSpec("2611.00001", "Scaling laws for protein language models", upvotes=300),
    PaperSpec("2611.00002", "Diffusion models for video generation", upvotes=120),
    PaperSpec("2611.00003", "A survey of graph neural networks", upvotes=40),
    PaperSpec("2611.00004", "Robot grasping with tactile diffusion policies", upvotes=20),
]


def check_rfc4287(document: bytes) -> ElementTree.Element:
    """What RFC 4287 requires of a feed and its entries, checked on the XML itself."""
    root = ElementTree.fromstring(document)
    assert root.tag == f"{ATOM}feed"
    assert LANGUAGE_TAG.match(root.get(XML_LANG, "")), "xml:lang is not a language tag"

    def one(parent: ElementTree.Element, name: str) -> ElementTree.Element:
        found = parent.findall(f"{ATOM}{name}")
        assert len(found) == 1, f"{parent.tag} must have exactly one {name}, has {len(found)}"
        return found[0]

    for name in ("id", "title", "updated"):
        assert (one(root, name).text or "").strip()
    assert RFC3339.match(one(root, "updated").text or "")
    feed_has_author = bool(root.findall(f"{ATOM}author/{ATOM}name"))
    rels = [link.get("rel", "alternate") for link in root.findall(f"{ATOM}link")]
    assert "self" in rels and rels.count("alternate") == 1
    ids = []
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert (one(entry, name).text or "").strip()
        for name in ("updated", "published"):
            for moment in entry.findall(f"{ATOM}{name}"):
                assert RFC3339.match(moment.text or ""), moment.text
        assert feed_has_author or entry.findall(f"{ATOM}author/{ATOM}name")
        alternates = [
            link for link in entry.findall(f"{ATOM}link") if link.get("rel") == "alternate"
        ]
        assert len(alternates) == 1 and alternates[0].get("href", "").startswith("http")
        content = entry.find(f"{ATOM}content")
        assert entry.find(f"{ATOM}summary") is not None or content is not None
        ids.append(one(entry, "id").text)
    assert len(ids) == len(set(ids)), "entry ids must be unique"
    return root


def parsed(body: bytes) -> feedparser.FeedParserDict:
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def test_archive_feed_lists_each_day_with_its_papers(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings
) -> None:
    now = utcnow()
    earlier = now - timedelta(days=20)  # out of today's window: each day has its own papers
    add_edition(sqlite_db, earlier.date(), earlier, PAPERS[:2])
    add_edition(sqlite_db, now.date(), now, PAPERS[2:])

    response = sqlite_client.get("/archive.atom")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    assert response.headers["cache-control"] == "public, max-age=300"
    check_rfc4287(response.content)
    feed = parsed(response.content)
    assert [entry.link for entry in feed.entries] == [
        links.archive_url(settings, now.date()),
        links.archive_url(settings, earlier.date()),
    ]
    assert "2 papers" in feed.entries[0].title
    assert "A survey of graph neural networks" in feed.entries[0].content[0].value
    # Stable ids: the same entry keeps its id on the next fetch.
    again = parsed(sqlite_client.get("/archive.atom").content)
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]


def test_empty_archive_feed_is_still_valid(sqlite_client: TestClient) -> None:
    body = sqlite_client.get("/archive.atom").content

    check_rfc4287(body)
    assert parsed(body).entries == []


def test_pages_announce_the_archive_feed(sqlite_db: Database, sqlite_client: TestClient) -> None:
    now = utcnow()
    add_edition(sqlite_db, now.date(), now, PAPERS[:1])

    for path in ("/", "/archive", f"/archive/{now.date().isoformat()}"):
        html = sqlite_client.get(path).text
        assert re.search(
            r'<link rel="alternate" type="application/atom\+xml"[^>]* href="/archive.atom">', html
        ), path


def _reader(db: Database, settings: Settings, email: str, topics: list[str]) -> str:
    row = add(db, email, SubscriberState.ACTIVE)
    set_fields(db, row.id, topics=topics, edition_size=4)
    return links.personal_feed_url(settings, row.id, email).removeprefix(settings.base_url)


def test_personal_feed_follows_the_subscribers_preferences(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings
) -> None:
    now = utcnow()
    add_edition(sqlite_db, now.date(), now, PAPERS)
    diffusion = _reader(sqlite_db, settings, "diffusion.reader@example.org", ["diffusion"])
    graphs = _reader(sqlite_db, settings, "graph.reader@example.org", ["graph neural networks"])

    bodies = {path: sqlite_client.get(path) for path in (diffusion, graphs)}

    titles = {}
    for path, response in bodies.items():
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        check_rfc4287(response.content)
        feed = parsed(response.content)
        titles[path] = [entry.title for entry in feed.entries]
        # No address of anyone: not the reader's, not the sender's, not in the URL.
        text = response.content.decode()
        assert not EMAIL_LIKE.search(text), EMAIL_LIKE.search(text)
        assert "example.org" not in path
    assert titles[diffusion] != titles[graphs]
    assert "Diffusion" in titles[diffusion][0]
    assert "graph" in titles[graphs][0]
    # The same papers in the same order as the subscriber's edition (their preview).
    with sqlite_db.session() as session:
        from digest.store.subscribers import find_by_email

        row = find_by_email(session, "graph.reader@example.org")
        assert row is not None
        subscriber_id = row.id
    edition = preview_edition(
        sqlite_db,
        settings,
        subscriber_id,
        topics=["graph neural networks"],
        categories=[],
        authors=[],
        size=4,
    )
    assert edition is not None
    assert titles[graphs] == [entry.title for entry in edition.entries]


def test_personal_feed_entry_ids_are_stable_and_paper_links_kept(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings
) -> None:
    now = utcnow()
    add_edition(sqlite_db, now.date(), now, PAPERS)
    path = _reader(sqlite_db, settings, "stable@example.org", ["diffusion"])
    fresh = _reader_again(settings, sqlite_db, "stable@example.org")

    first = parsed(sqlite_client.get(path).content)
    second = parsed(sqlite_client.get(fresh).content)

    assert first.feed.id == second.feed.id
    self_links = [link.href for link in first.feed.links if link.rel == "self"]
    assert self_links == [f"{settings.base_url}{path}"]
    assert [e.id for e in first.entries] == [e.id for e in second.entries]
    assert {e.link for e in first.entries} == {
        f"https://arxiv.org/abs/{paper.arxiv_id}" for paper in PAPERS
    }


def _reader_again(settings: Settings, db: Database, email: str) -> str:
    """A second link to the same feed, made later (its token differs in its timestamp)."""
    with db.session() as session:
        from digest.store.subscribers import find_by_email

        row = find_by_email(session, email)
        assert row is not None
        return links.personal_feed_url(settings, row.id, email).removeprefix(settings.base_url)


def test_personal_feed_ends_with_the_subscription(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings
) -> None:
    now = utcnow()
    add_edition(sqlite_db, now.date(), now, PAPERS)
    path = _reader(sqlite_db, settings, "leaving@example.org", [])
    assert sqlite_client.get(path).status_code == 200
    unsubscribe = links.unsubscribe_url(
        settings, _id(sqlite_db, "leaving@example.org"), "leaving@example.org"
    ).removeprefix(settings.base_url)

    assert sqlite_client.post(unsubscribe).status_code == 200

    gone = sqlite_client.get(path)
    assert gone.status_code == 410
    assert "leaving@example.org" not in gone.text


def test_deleting_the_data_ends_the_feed(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings
) -> None:
    path = _reader(sqlite_db, settings, "erase.me@example.org", [])
    prefs = links.preferences_url(
        settings, _id(sqlite_db, "erase.me@example.org"), "erase.me@example.org"
    ).removeprefix(settings.base_url)
    assert sqlite_client.get(path).status_code == 200  # valid even before the first pool
    delete = prefs.replace("/preferences?", "/preferences/delete?")

    browser_post(sqlite_client, prefs, delete, {"confirm_delete": "yes"})

    assert sqlite_client.get(path).status_code == 410


@pytest.mark.parametrize("query", ["", "?token=", "?token=abc.def.ghi"])
def test_a_bad_feed_token_is_404(sqlite_client: TestClient, query: str) -> None:
    assert sqlite_client.get(f"/feed.atom{query}").status_code == 404


def test_a_preferences_token_does_not_open_the_feed(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings
) -> None:
    email = "purpose@example.org"
    _reader(sqlite_db, settings, email, [])
    prefs = links.preferences_url(settings, _id(sqlite_db, email), email)
    token = prefs.split("token=", 1)[1]

    assert sqlite_client.get(f"/feed.atom?token={token}").status_code == 404


def _id(db: Database, email: str) -> int:
    with db.session() as session:
        from digest.store.subscribers import find_by_email

        row = find_by_email(session, email)
        assert row is not None
        return row.id


def _unused(moment: datetime) -> None:  # pragma: no cover
    del moment


def test_preferences_page_gives_the_personal_feed_address(
    sqlite_db: Database, sqlite_client: TestClient, settings: Settings
) -> None:
    now = utcnow()
    add_edition(sqlite_db, now.date(), now, PAPERS)
    email = "reader.prefs@example.org"
    _reader(sqlite_db, settings, email, ["diffusion"])
    prefs = links.preferences_url(settings, _id(sqlite_db, email), email)

    page = sqlite_client.get(prefs.removeprefix(settings.base_url)).text

    found = re.search(r'<input id="feed-url" type="url" value="([^"]+)" readonly', page)
    assert found, "no feed address on the preferences page"
    feed_url = found.group(1).replace("&amp;", "&")
    assert feed_url.startswith(f"{settings.base_url}/feed.atom?token=")
    assert email not in feed_url and "reader.prefs" not in feed_url
    feed = parsed(sqlite_client.get(feed_url.removeprefix(settings.base_url)).content)
    assert "Diffusion" in feed.entries[0].title
