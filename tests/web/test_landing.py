"""GET /: what the digest is, the subscribe form, and the latest edition's top papers."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select
from starlette.testclient import TestClient

from digest.store.db import Database
from digest.store.models import Paper, Pool, SignalSnapshot
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


def store_unpooled(db: Database, source: str, summary: str | None = None) -> None:
    """Two papers as a fetch leaves them before the first send: stored, no pool yet."""
    now = utcnow()
    with db.session() as session:
        for arxiv_id, title, upvotes in (
            ("2501.00011", "Rising paper", 90),
            ("2501.00012", "Slower paper", 3),
        ):
            paper = Paper(
                arxiv_id=arxiv_id,
                title=title,
                abstract="An abstract that says what the paper found. " * 10,
                summary=summary if upvotes == 90 else None,
                url=f"https://arxiv.org/abs/{arxiv_id}",
                listed_on=now.date(),
                published_at=now - timedelta(hours=3),
                source=source,
            )
            paper.signals.append(
                SignalSnapshot(
                    observed_at=now - timedelta(minutes=5), source=source, upvotes=upvotes
                )
            )
            session.add(paper)


def pool_count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Pool)) or 0


def test_landing_before_the_first_send_shows_stored_papers_and_freezes_nothing(
    sqlite_db: Database, sqlite_client: TestClient
) -> None:
    store_unpooled(sqlite_db, "hf", summary="A one-line summary of the rising paper.")

    html = sqlite_client.get("/").text

    assert "coming soon" not in html
    titles = re.findall(r'class="title" href="[^"]+"[^>]*>([^<]+)<', html)
    assert titles == ["Rising paper", "Slower paper"]
    machine_written = '<span class="tldr-note">(machine-written)</span>'
    assert f"TL;DR</span> {machine_written} A one-line summary of the rising paper." in html
    assert "An abstract that says what the paper found." in html  # the other's excerpt
    assert "…" in html  # excerpts are cut short
    assert "What the email looks like" in html
    assert "/archive/" not in html  # no edition to link to yet
    assert "Sample" not in html
    assert pool_count(sqlite_db) == 0  # a page view must not fix the day's pool early


def test_landing_labels_sample_papers(sqlite_db: Database, sqlite_client: TestClient) -> None:
    store_unpooled(sqlite_db, "sample")

    html = sqlite_client.get("/").text

    assert "<strong>Sample papers.</strong> These papers are a built-in sample" in html
    assert html.count('<span class="tag">Sample</span>') == 2


def test_landing_links_the_latest_edition_in_the_archive(
    sqlite_db: Database, sqlite_client: TestClient
) -> None:
    now = utcnow()
    day = now.date() - timedelta(days=1)
    add_edition(sqlite_db, day, now, [PaperSpec("2501.00021", "Archived paper", upvotes=9)])

    html = sqlite_client.get("/").text

    assert f'<a class="more" href="/archive/{day.isoformat()}">Read the whole edition' in html
    assert sqlite_client.get(f"/archive/{day.isoformat()}").status_code == 200
