"""/archive and /archive/YYYY-MM-DD: the public editions, each with a way to subscribe."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from digest.store.db import Database
from digest.store.types import utcnow
from tests.web.support import PaperSpec, add_edition


def test_archive_lists_editions_newest_first(
    sqlite_db: Database, sqlite_client: TestClient
) -> None:
    now = utcnow()
    for days_ago, arxiv_id in ((3, "2501.00003"), (1, "2501.00001")):
        add_edition(
            sqlite_db,
            now.date() - timedelta(days=days_ago),
            now - timedelta(days=days_ago),
            [PaperSpec(arxiv_id, f"Paper {arxiv_id}", upvotes=5)],
        )

    html = sqlite_client.get("/archive").text

    days = re.findall(r'href="/archive/(\d{4}-\d{2}-\d{2})"', html)
    assert days == [(now.date() - timedelta(days=d)).isoformat() for d in (1, 3)]


def test_empty_archive_says_so(sqlite_client: TestClient) -> None:
    response = sqlite_client.get("/archive")

    assert response.status_code == 200
    assert "No edition has been published yet" in response.text


def test_edition_page_shows_papers_in_order_with_a_subscribe_link(
    sqlite_db: Database, sqlite_client: TestClient
) -> None:
    now = utcnow()
    add_edition(
        sqlite_db,
        now.date(),
        now,
        [
            PaperSpec("2501.00001", "Quiet paper <b>", upvotes=1),
            PaperSpec("2501.00002", "Loud paper", upvotes=900),
        ],
    )

    response = sqlite_client.get(f"/archive/{now.date().isoformat()}")

    assert response.status_code == 200
    # The email's own paper rows: the archive page is its "view in browser" copy.
    titles = re.findall(r'class="paper-title">.*?<a href="[^"]+"[^>]*>([^<]+)<', response.text)
    assert titles == ["Loud paper", "Quiet paper &lt;b&gt;"]
    assert 'href="/">Subscribe</a>' in response.text
    assert "An abstract." in response.text
    assert '<header class="site">' in response.text  # the site's chrome around the papers


@pytest.mark.parametrize("path", ["/archive/2025-13-45", "/archive/yesterday", "/archive/1-1-1"])
def test_malformed_day_is_404(sqlite_client: TestClient, path: str) -> None:
    response = sqlite_client.get(path)

    assert response.status_code == 404
    assert "There is no page at this address." in response.text


def test_a_day_without_an_edition_says_so_and_points_to_the_nearest(
    sqlite_db: Database, sqlite_client: TestClient
) -> None:
    now = utcnow()
    add_edition(sqlite_db, now.date(), now, [PaperSpec("2501.00001", "Only paper", upvotes=5)])

    response = sqlite_client.get("/archive/2020-01-01")

    assert response.status_code == 404
    assert "No edition on Wednesday 1 January 2020" in response.text
    assert "Not Found" not in response.text
    assert f'href="/archive/{now.date().isoformat()}"' in response.text
    assert 'href="/archive">See every edition</a>' in response.text


def test_archive_index_shows_each_days_count_and_top_title(
    sqlite_db: Database, sqlite_client: TestClient
) -> None:
    now = utcnow()
    add_edition(
        sqlite_db,
        now.date(),
        now,
        [
            PaperSpec("2501.00001", "Runner-up paper", upvotes=2),
            PaperSpec("2501.00002", "The day's top paper", upvotes=800),
        ],
    )

    html = sqlite_client.get("/archive").text

    assert "2 papers" in html
    assert "Top: The day&#39;s top paper" in html
    assert "Runner-up paper" not in html


def test_edition_page_is_the_emails_web_copy_without_personal_links(
    sqlite_db: Database, sqlite_client: TestClient
) -> None:
    now = utcnow()
    add_edition(sqlite_db, now.date(), now, [PaperSpec("2501.00009", "Shared paper", upvotes=3)])

    response = sqlite_client.get(f"/archive/{now.date().isoformat()}")

    page = response.text
    assert 'class="paper-title"' in page and "Shared paper" in page  # the email's paper row
    for personal in ("/unsubscribe", "/preferences", "/feedback", "More like this"):
        assert personal not in page
    nonce = re.search(r"style-src 'nonce-([^']+)'", response.headers["content-security-policy"])
    assert nonce is not None and page.count("<style") >= 1
    assert page.count("<style") == page.count(f'<style nonce="{nonce.group(1)}">')
    assert ' style="' not in page  # the CSP allows no style attributes


TOPICS = [
    "Protein folding with sparse attention",
    "Robot grasping from tactile images",
    "Speech recognition for low-resource languages",
    "Weather forecasting with graph networks",
    "Compilers that learn loop schedules",
    "Galaxy morphology from citizen science labels",
    "Differential privacy for federated recommendation",
    "Legal contract clause extraction",
    "Quantum error correction decoders",
    "Music generation with symbolic transformers",
    "Crop yield estimation from satellites",
    "Theorem proving with retrieval",
]


def test_archive_index_and_feed_on_both_databases(db: Database, client: TestClient) -> None:
    now = utcnow()
    add_edition(
        db,
        now.date(),
        now,
        [PaperSpec(f"2501.{n:05d}", title, upvotes=100 - n) for n, title in enumerate(TOPICS)],
    )

    html = client.get("/archive").text
    feed = client.get("/archive.atom")

    # The public edition is the head of the pool: DIGEST_ARCHIVE_PAPERS (10) of the 12.
    counts = re.findall(r"class=\"count\">([^<]*)<", html)
    assert counts == ["· 10 papers"] and f"Top: {TOPICS[0]}" in html
    assert feed.status_code == 200 and feed.text.count("&lt;li&gt;") == 10  # escaped HTML content


def test_edition_page_links_the_days_before_and_after(
    sqlite_db: Database, sqlite_client: TestClient
) -> None:
    now = utcnow()
    days = [now - timedelta(days=ago) for ago in (40, 20, 0)]  # apart: each its own papers
    for n, moment in enumerate(days):
        add_edition(sqlite_db, moment.date(), moment, [PaperSpec(f"2501.0010{n}", TOPICS[n], 5)])

    middle = sqlite_client.get(f"/archive/{days[1].date().isoformat()}").text
    newest = sqlite_client.get(f"/archive/{days[2].date().isoformat()}").text

    assert f'rel="prev" href="/archive/{days[0].date().isoformat()}"' in middle
    assert f'rel="next" href="/archive/{days[2].date().isoformat()}"' in middle
    assert '<a rel="next"' not in newest and '<a rel="prev"' in newest
