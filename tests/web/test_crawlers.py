"""What search engines and browsers read about each page: robots.txt, noindex on everything
but the public pages, a meta description and the icon on every page."""

from __future__ import annotations

import re
import struct
from datetime import timedelta
from typing import cast
from urllib.robotparser import RobotFileParser

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import SubscriberState
from digest.store.types import utcnow
from digest.tokens import Purpose
from digest.web import create_app
from tests.web.admin_support import OPERATOR, with_admin
from tests.web.support import PaperSpec, add, add_edition, subscribe, token

PUBLIC_PAGES = ["/", "/archive", "/archive/{day}"]
ROBOTS_META = re.compile(r'<meta name="robots" content="([^"]*)">')
DESCRIPTION = re.compile(r'<meta name="description" content="([^"]*)">')


def robots(client: TestClient) -> RobotFileParser:
    answer = client.get("/robots.txt")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    parser = RobotFileParser()
    parser.parse(answer.text.splitlines())
    return parser


def private_pages(client: TestClient, db: Database, settings: Settings) -> dict[str, str]:
    """A link of every kind a subscriber gets, for one active subscriber."""
    row = add(db, "reader@example.org", SubscriberState.ACTIVE)
    day = utcnow().date().isoformat()
    return {
        "preferences": f"/preferences?token={token(settings, Purpose.PREFERENCES, row)}",
        "export": f"/preferences/export?token={token(settings, Purpose.PREFERENCES, row)}",
        "unsubscribe": f"/unsubscribe?token={token(settings, Purpose.UNSUBSCRIBE, row)}",
        "confirm": f"/confirm?token={token(settings, Purpose.CONFIRM, row)}",
        "feedback": (
            f"/feedback?token={token(settings, Purpose.FEEDBACK, row)}&paper=2501.00001&vote=more"
        ),
        "rate": f"/rate?token={token(settings, Purpose.FEEDBACK, row)}&edition={day}",
        "feed": f"/feed.atom?token={token(settings, Purpose.FEED, row)}",
        "bad link": "/preferences?token=not-a-token",
        "missing page": "/nowhere",
        "health": "/healthz",
    }


@pytest.fixture
def edition_day(sqlite_db: Database) -> str:
    now = utcnow()
    add_edition(
        sqlite_db,
        now.date() - timedelta(days=1),
        now - timedelta(days=1),
        [
            PaperSpec("2501.00001", "Sparse Mixtures Route Tokens Faster", upvotes=180),
            PaperSpec("2501.00002", "Diffusion Planners for Robot Arms", upvotes=57),
        ],
    )
    return (now.date() - timedelta(days=1)).isoformat()


def test_robots_txt_lets_the_archive_in_and_keeps_every_link_page_out(
    sqlite_client: TestClient, sqlite_db: Database, settings: Settings, edition_day: str
) -> None:
    parser = robots(sqlite_client)
    base = "http://testserver"
    for path in ("/", "/archive", f"/archive/{edition_day}", "/archive.atom"):
        assert parser.can_fetch("Googlebot", f"{base}{path}"), path
    for name, link in private_pages(sqlite_client, sqlite_db, settings).items():
        if name != "missing page":
            assert not parser.can_fetch("Googlebot", f"{base}{link}"), name
    for path in ("/admin", "/subscribe", "/unsubscribe/weekly", "/webhooks/bounces", "/metrics"):
        assert not parser.can_fetch("*", f"{base}{path}"), path


def test_every_route_is_public_or_disallowed(sqlite_client: TestClient) -> None:
    """A page added later is kept out of search engines unless it is meant to be public."""
    parser = robots(sqlite_client)
    public = {*PUBLIC_PAGES, "/archive.atom", "/robots.txt", "/favicon.svg", "/favicon.ico"}
    app = cast(Starlette, sqlite_client.app)
    routes = [route.path for route in app.routes if isinstance(route, Route)]
    assert set(public) <= set(routes)
    for path in routes:
        allowed = parser.can_fetch("*", f"http://testserver{path}")
        assert allowed is (path in public), path


def test_behind_a_sub_path_robots_txt_names_its_paths(
    sqlite_db: Database, settings: Settings
) -> None:
    moved = settings.model_copy(update={"base_url": "https://example.org/papers"})
    with TestClient(create_app(moved, sqlite_db, lambda: None)) as client:
        text = client.get("/robots.txt").text
    assert "Disallow: /papers/preferences\n" in text
    assert "Disallow: /preferences" not in text


def test_public_pages_may_be_indexed(sqlite_client: TestClient, edition_day: str) -> None:
    for path in ("/", "/archive", f"/archive/{edition_day}", "/archive.atom"):
        answer = sqlite_client.get(path)
        assert answer.status_code == 200, path
        assert "x-robots-tag" not in answer.headers, path
        assert ROBOTS_META.search(answer.text) is None, path


def test_link_pages_errors_and_answers_are_noindex(
    sqlite_client: TestClient, sqlite_db: Database, settings: Settings
) -> None:
    for name, link in private_pages(sqlite_client, sqlite_db, settings).items():
        answer = sqlite_client.get(link)
        assert answer.headers.get("x-robots-tag") == "noindex, nofollow", name
        if answer.headers["content-type"].startswith("text/html"):
            assert ROBOTS_META.findall(answer.text) == ["noindex, nofollow"], name
    # The answer to a form, though its path is the landing page's neighbour.
    inbox = subscribe(sqlite_client, "new.reader@example.org")
    assert inbox.headers.get("x-robots-tag") == "noindex, nofollow"
    assert ROBOTS_META.findall(inbox.text) == ["noindex, nofollow"]
    # A public page reached with a token (a tracking-free "view in browser" with a stray
    # token, say) is not indexed either.
    assert sqlite_client.get("/?token=abc").headers.get("x-robots-tag") == "noindex, nofollow"


def test_every_page_has_a_description_and_links_the_icon(
    sqlite_client: TestClient, sqlite_db: Database, settings: Settings, edition_day: str
) -> None:
    links = {
        "landing": "/",
        "archive": "/archive",
        "archive day": f"/archive/{edition_day}",
        "missing day": "/archive/2001-01-01",
        **private_pages(sqlite_client, sqlite_db, settings),
    }
    descriptions = {}
    for name, link in links.items():
        answer = sqlite_client.get(link)
        if not answer.headers["content-type"].startswith("text/html"):
            continue
        found = DESCRIPTION.findall(answer.text)
        assert len(found) == 1 and len(found[0]) >= 50, (name, found)
        descriptions[name] = found[0]
        assert '<link rel="icon" href="/favicon.svg" type="image/svg+xml">' in answer.text, name
    assert "archive day" in descriptions and "missing page" in descriptions
    # The archive's pages say what they hold; a search result shows it.
    assert (
        "the 2 research papers people were talking about that day" in (descriptions["archive day"])
    )
    assert descriptions["archive"].startswith("Every edition of")


def test_the_dashboard_has_a_description_and_the_icon(
    sqlite_db: Database, settings: Settings
) -> None:
    with TestClient(create_app(with_admin(settings), sqlite_db, lambda: None)) as client:
        page = client.get("/admin", headers=OPERATOR)
    assert page.status_code == 200
    assert len(DESCRIPTION.findall(page.text)) == 1
    assert '<link rel="icon" href="/favicon.svg"' in page.text
    assert page.headers["x-robots-tag"] == "noindex, nofollow"


def test_the_icon_is_served_as_svg_and_ico(sqlite_client: TestClient) -> None:
    svg = sqlite_client.get("/favicon.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith("<svg xmlns=") and "</svg>" in svg.text
    ico = sqlite_client.get("/favicon.ico")
    assert ico.status_code == 200
    assert ico.headers["content-type"] == "image/vnd.microsoft.icon"
    reserved, kind, count = struct.unpack("<HHH", ico.content[:6])
    assert (reserved, kind) == (0, 1)
    sizes = []
    for i in range(count):
        width, _, _, _, _, _, length, offset = struct.unpack(
            "<BBBBHHII", ico.content[6 + 16 * i : 22 + 16 * i]
        )
        assert ico.content[offset : offset + 8] == b"\x89PNG\r\n\x1a\n"
        assert offset + length <= len(ico.content)
        sizes.append(width)
    assert sizes == [16, 32, 48]
    for answer in (svg, ico):
        assert answer.headers["cache-control"] == "public, max-age=86400"


def test_the_icon_and_robots_txt_answer_head_too(sqlite_client: TestClient) -> None:
    for path in ("/robots.txt", "/favicon.svg", "/favicon.ico"):
        assert sqlite_client.head(path).status_code == 200, path


def test_pages_may_fetch_from_this_site_and_nowhere_else(sqlite_client: TestClient) -> None:
    """Audits read robots.txt from inside the page (Lighthouse's `robots-txt`)."""
    csp = sqlite_client.get("/").headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["connect-src"] == "'self'"
    assert directives["default-src"] == "'none'"


def test_non_html_answers_keep_the_strict_policy(sqlite_client: TestClient) -> None:
    answer: httpx.Response = sqlite_client.get("/robots.txt")
    assert "connect-src" not in answer.headers["content-security-policy"]
