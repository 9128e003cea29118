"""GET /: what the digest is, the subscribe form, and the latest edition's top papers."""

from __future__ import annotations

import re
from datetime import timedelta

from starlette.testclient import TestClient

from digest.store.db import Database
from digest.store.types import utcnow
from tests.web.support import PaperSpec, add_edition


def test_landing_without_edition_shows_form_and_coming_soon(sqlite_client: TestClient) -> None:
    response = sqlite_client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<form method="post" action="/subscribe">' in html
    assert '<label for="email">' in html and 'name="email"' in html
    assert 'name="topics"' in html
    assert '<option value="UTC" selected>' in html
    assert '<option value="Europe/Paris">' in html
    assert "Intl.DateTimeFormat().resolvedOptions().timeZone" in html
    assert "first edition is coming soon" in html


def test_landing_lists_latest_edition_in_rank_order(
    sqlite_db: Database, sqlite_client: TestClient
) -> None:
    now = utcnow()
    add_edition(
        sqlite_db,
        now.date() - timedelta(days=30),
        now - timedelta(days=30),
        [PaperSpec("2401.00001", "Last month's paper", upvotes=500)],
    )
    add_edition(
        sqlite_db,
        now.date(),
        now,
        [
            PaperSpec("2501.00001", "Quiet paper", upvotes=1),
            PaperSpec(
                "2501.00002",
                "Loud paper",
                upvotes=1200,
                comments=3,
                stars=45,
                authors=("A One", "B Two", "C Three", "D Four"),
            ),
            PaperSpec("2501.00003", "Middle paper", upvotes=40),
        ],
    )

    html = sqlite_client.get("/").text

    assert "coming soon" not in html
    assert "Last month&#39;s paper" not in html  # only the latest edition
    titles = re.findall(r'class="title" href="[^"]+"[^>]*>([^<]+)<', html)
    assert titles == ["Loud paper", "Middle paper", "Quiet paper"]
    assert 'href="https://arxiv.org/abs/2501.00002"' in html
    assert "▲ 1.2k upvotes · 3 comments · ★ 45 on GitHub" in html
    assert "A One, B Two, C Three et al." in html


def test_landing_escapes_paper_text_and_refuses_script_links(
    sqlite_db: Database, sqlite_client: TestClient
) -> None:
    now = utcnow()
    add_edition(
        sqlite_db,
        now.date(),
        now,
        [
            PaperSpec(
                "2501.00009", "<script>alert(1)</script>", upvotes=5, url="javascript:alert(1)"
            )
        ],
    )

    html = sqlite_client.get("/").text

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html
