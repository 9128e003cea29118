"""The W3C Nu HTML checker finds no error in any email's HTML or any page of the site.

Mail clients and browsers each repair invalid markup their own way, so an error the
checker reports is a place where two readers may see two different things. Warnings (the
table attributes email still needs, for one) are allowed.
"""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.web import create_app
from tests.conftest import REDIS_URL
from tests.deliverability.mailings import BASE_URL, Caught
from tests.deliverability.nu import Problem, check_html
from tests.deliverability.pages import site_settings, visit_every_page


def test_every_email_and_page_has_no_html_error(
    mailings: dict[str, Caught], mail_settings: Settings, tmp_path: Path
) -> None:
    settings = site_settings(mail_settings, REDIS_URL)
    db = Database(settings.database_url)
    try:
        with TestClient(create_app(settings, db, lambda: None), base_url=BASE_URL) as client:
            pages = visit_every_page(client, mailings, settings, db)
    finally:
        db.dispose()
    html = {f"{kind} email": caught.html_bytes() for kind, caught in mailings.items()}
    html |= {f"{name} page ({page.status})": page.html.encode() for name, page in pages.items()}

    problems = check_html(html, tmp_path / "html")

    assert not problems, f"Nu: {len(problems)} errors:\n{summary(problems, len(html))}"


def summary(problems: list[Problem], documents: int) -> str:
    """Each document's distinct errors, with how often each occurs and its first line."""
    seen: dict[str, dict[str, list[Problem]]] = {}
    for problem in problems:
        seen.setdefault(problem.document, {}).setdefault(problem.message, []).append(problem)
    lines = [f"{len(seen)} of {documents} documents have errors"]
    for document, messages in seen.items():
        for message, found in messages.items():
            first = found[0]
            lines.append(
                f"  {document}: {message} (x{len(found)}; line {first.line}: "
                f"{' '.join(first.extract.split())[:70]})"
            )
    return "\n".join(lines)
