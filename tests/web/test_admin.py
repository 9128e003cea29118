"""The operator dashboard over real HTTP through the app: absent without a credential,
401 and 429 for wrong ones, full addresses only behind them, and a CSRF-checked release."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import DeliveryStatus
from digest.web import create_app
from digest.web.admin_password import parse_password_hash
from tests.web.admin_support import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    BOUNCED_ADDRESS,
    FETCH_ERROR,
    OPERATOR,
    basic,
    delivery_status,
    fill_store,
    with_admin,
)
from tests.web.support import BROWSER, csrf_from

WRONG = [
    basic(ADMIN_USER, "guess"),
    basic("root", ADMIN_PASSWORD),
    {"Authorization": "Basic !!notbase64"},
    {"Authorization": "Bearer abc"},
]


@pytest.fixture
def admin(db: Database, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(with_admin(settings), db, lambda: None)) as client:
        yield client


def test_absent_without_the_setting(sqlite_client: TestClient) -> None:
    assert sqlite_client.get("/admin", headers=OPERATOR).status_code == 404
    assert sqlite_client.post("/admin/release", headers=OPERATOR).status_code == 404


def test_public_pages_never_link_the_dashboard(admin: TestClient) -> None:
    for path in ("/", "/archive"):
        page = admin.get(path)
        assert page.status_code == 200
        assert "/admin" not in page.text


@pytest.mark.parametrize("headers", [{}, *WRONG])
def test_wrong_or_missing_credentials_get_401_with_no_hint(
    admin: TestClient, db: Database, headers: dict[str, str]
) -> None:
    fill_store(db)
    response = admin.get("/admin", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert response.text == "Authentication required.\n"
    assert "@" not in response.text
    assert response.headers["x-frame-options"] == "DENY"
    assert "no-store" in response.headers["cache-control"]


def test_attempts_are_rate_limited_per_client(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    wrong = basic(ADMIN_USER, "nope")
    answers = [admin.get("/admin", headers=wrong).status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]
    # Once over the limit, even the right password waits: no oracle for a guesser.
    blocked = admin.get("/admin", headers=OPERATOR)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    # Another client, counted in the same Redis by a second app process, is not held back.
    other_app = create_app(with_admin(settings), db, lambda: None)
    with TestClient(other_app, client=("203.0.113.9", 40000)) as other:
        assert other.get("/admin", headers=OPERATOR).status_code == 200
    with TestClient(other_app) as same_client:
        assert same_client.get("/admin", headers=OPERATOR).status_code == 429


def test_right_credentials_show_every_panel(admin: TestClient, db: Database) -> None:
    fill_store(db)
    page = admin.get("/admin", headers=OPERATOR)
    assert page.status_code == 200
    html = page.text
    assert '<meta name="robots" content="noindex' in html
    assert "no-store" in page.headers["cache-control"]
    assert "nonce-" in page.headers["content-security-policy"]
    for shown in (BOUNCED_ADDRESS, "new@example.org", FETCH_ERROR):
        assert shown in html
    assert "active: <strong>4</strong>" in html
    assert "bounced: <strong>1</strong>" in html
    assert "550 5.1.1 mailbox unknown" in html
    assert "SMTP 451 try later" in html
    assert html.count("<svg") == 2  # subscribers over time, and the edition's sends per minute
    assert "Messages sent per minute" in html
    assert "Subscribers by state" in html


def test_get_changes_nothing_and_release_needs_the_csrf_token(
    admin: TestClient, db: Database
) -> None:
    stale = fill_store(db)
    page = admin.get("/admin", headers=OPERATOR)
    admin.get("/admin?released=5", headers=OPERATOR)
    assert delivery_status(db, stale) is DeliveryStatus.CLAIMED

    forged = admin.post(
        "/admin/release", data={"csrf_token": "forged"}, headers={**OPERATOR, **BROWSER}
    )
    assert forged.status_code == 403
    cross_site = admin.post(
        "/admin/release",
        data={"csrf_token": csrf_from(page.text)},
        headers={**OPERATOR, "Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
    unauthenticated = admin.post(
        "/admin/release", data={"csrf_token": csrf_from(page.text)}, headers=BROWSER
    )
    assert unauthenticated.status_code == 401
    assert delivery_status(db, stale) is DeliveryStatus.CLAIMED

    released = admin.post(
        "/admin/release",
        data={"csrf_token": csrf_from(page.text)},
        headers={**OPERATOR, **BROWSER},
        follow_redirects=False,
    )
    assert released.status_code == 303
    assert delivery_status(db, stale) is DeliveryStatus.PENDING
    after = admin.get(released.headers["location"], headers=OPERATOR)
    assert "Released 1 stale claim." in after.text


def test_hash_password_command_prints_a_line_that_verifies(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    digest = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "digest"
    result = subprocess.run(
        [str(digest), "admin", "hash-password"],
        input="s3cret pass\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("scrypt$")
    hashed = parse_password_hash(line)
    assert hashed.matches("s3cret pass")
    assert not hashed.matches("s3cret pass ")


def test_without_redis_the_limit_is_counted_in_the_process(
    sqlite_db: Database, settings: Settings
) -> None:
    local = with_admin(settings.model_copy(update={"redis_url": "none://"}))
    with TestClient(create_app(local, sqlite_db, lambda: None)) as client:
        wrong = basic(ADMIN_USER, "nope")
        answers = [client.get("/admin", headers=wrong).status_code for _ in range(4)]
        assert answers == [401, 401, 401, 429]
        assert client.get("/admin", headers=OPERATOR).status_code == 429
