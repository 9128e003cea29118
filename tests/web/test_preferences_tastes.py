"""/preferences: seed papers (pasted and uploaded), what it learned, the learning switch and
"forget my ratings", on SQLite and PostgreSQL, with arXiv's API stood in on 127.0.0.1."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from digest.settings import Settings
from digest.store.db import Database
from digest.store.feedback import Vote, record_feedback
from digest.store.models import Feedback, SeedPaper, Subscriber, SubscriberState
from digest.store.types import utcnow
from digest.tokens import Purpose
from digest.web import create_app
from tests.conftest import REDIS_URL
from tests.sources.arxiv_standin import arxiv_standin, asked_ids
from tests.sources.support import LocalServer
from tests.web.conftest import Recorder
from tests.web.support import BROWSER, PaperSpec, add, add_edition, csrf_from, subscriber, token

PAPERS = [
    PaperSpec("2501.00001", "Sparse Mixtures Route Tokens Faster", upvotes=180),
    PaperSpec("2501.00002", "Robot Hands That Grasp Household Objects", upvotes=20),
    PaperSpec("2501.00003", "Quiet Baselines for Tabular Learning", upvotes=90),
]


@pytest.fixture
def arxiv() -> Iterator[LocalServer]:
    with arxiv_standin() as server:
        yield server


@pytest.fixture
def app_client(
    db: Database, settings: Settings, enqueued: Recorder, arxiv: LocalServer
) -> Iterator[TestClient]:
    """The app with arXiv's API at the stand-in and seed limits small enough to test."""
    tuned = settings.model_copy(
        update={
            "arxiv_api_url": arxiv.url,
            "arxiv_lock_url": REDIS_URL,
            "arxiv_interval_seconds": 0.0,
            "seed_upload_max_bytes": 4096,
            "seed_papers_max": 5,
        }
    )
    with TestClient(create_app(tuned, db, enqueued.kick_for(db, tuned))) as client:
        yield client


@pytest.fixture
def reader(db: Database) -> Subscriber:
    now = utcnow()
    add_edition(db, now.date() - timedelta(days=1), now - timedelta(days=1), PAPERS)
    return add(db, "reader@example.com", SubscriberState.ACTIVE)


@pytest.fixture
def page(settings: Settings, reader: Subscriber) -> str:
    return f"/preferences?token={token(settings, Purpose.PREFERENCES, reader)}"


def action(page: str, path: str) -> str:
    return page.replace("/preferences?", f"/preferences/{path}?")


def post(
    client: TestClient,
    page: str,
    path: str,
    data: dict[str, str],
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> str:
    csrf = csrf_from(client.get(page).text)
    response = client.post(
        action(page, path), data={**data, "csrf_token": csrf}, files=files, headers=BROWSER
    )
    return f"{response.status_code}\n{response.text}"


def seeds(db: Database) -> list[tuple[str, str]]:
    with db.session() as session:
        return [
            (row.title, row.origin)
            for row in session.scalars(select(SeedPaper).order_by(SeedPaper.id))
        ]


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_pasted_ids_are_looked_up_once_listed_and_removable(
    db: Database, app_client: TestClient, page: str, arxiv: LocalServer
) -> None:
    answer = post(
        app_client, page, "seeds", {"papers": "2406.00001\nhttps://arxiv.org/abs/2406.00002v1"}
    )

    assert answer.startswith("200\n")
    assert "Added 2 papers." in answer
    assert seeds(db) == [
        ("Dexterous Robot Hands Grasp Household Objects", "arxiv"),
        ("Tactile Manipulation with Soft Grippers", "arxiv"),
    ]
    listed = app_client.get(page).text
    assert "Your papers (2 of at most 5)" in listed
    assert 'href="https://arxiv.org/abs/2406.00001"' in listed
    assert "looked up on arXiv" in listed
    again = post(app_client, page, "seeds", {"papers": "2406.00001"})
    assert "Added 0 papers; 1 you had already." in again
    assert asked_ids(arxiv) == [["2406.00001", "2406.00002"]]

    with db.session() as session:
        first = session.scalars(select(SeedPaper.id).order_by(SeedPaper.id)).first()
    removed = post(app_client, page, "seeds/remove", {"seed": str(first)})
    assert "Removed 1 paper." in removed
    assert seeds(db) == [("Tactile Manipulation with Soft Grippers", "arxiv")]
    assert "Removed 1 paper." in post(app_client, page, "seeds/remove", {"seed": "all"})
    assert seeds(db) == []


def test_an_uploaded_zotero_export_is_used_as_it_is(
    db: Database, app_client: TestClient, page: str, arxiv: LocalServer
) -> None:
    export = json.dumps(
        [
            {
                "title": "Grasping in Clutter",
                "abstract": "Robot hands pick objects from cluttered bins.",
                "author": [{"family": "Quinlan", "given": "Ada"}],
            }
        ]
    ).encode()

    answer = post(
        app_client, page, "seeds", {"papers": ""},
        files={"library": ("My Library.json", export, "application/json")},
    )  # fmt: skip

    assert "Added 1 paper." in answer
    assert seeds(db) == [("Grasping in Clutter", "file")]
    assert arxiv.requests == []


def test_a_bad_submission_names_each_entry_and_adds_nothing(
    db: Database, app_client: TestClient, page: str
) -> None:
    bib = (
        b"@article{a, title = {Fine}, abstract = {Robot hands.}}\n"
        b"@article{b, title = {Broken, abstract = {x}}\n"
    )

    answer = post(
        app_client, page, "seeds", {"papers": "2406.00001\nhttps://example.com/x\nab"},
        files={"library": ("refs.bib", bib, "text/plain")},
    )  # fmt: skip

    assert answer.startswith("422\n")
    text = text_of(answer)
    assert "3 of 5 entries cannot be used, so nothing was added." in text
    assert "Line 2: a link to neither arXiv nor doi.org" in text
    assert "Line 3: &#39;ab&#39; is too short to be a title." in text
    assert "Entry 2 (line 2) of the file: cannot be read:" in text
    assert "2406.00001\nhttps://example.com/x\nab</textarea>" in answer  # kept to correct
    assert seeds(db) == []

    skipped = post(app_client, page, "seeds", {"papers": "2406.00001\nab", "skip_bad": "yes"})
    assert "Added 1 paper; skipped 1 that cannot be used." in skipped
    assert seeds(db) == [("Dexterous Robot Hands Grasp Household Objects", "arxiv")]


def test_a_file_too_large_or_unreadable_is_refused_whole(
    db: Database, app_client: TestClient, page: str
) -> None:
    large = post(
        app_client, page, "seeds", {},
        files={"library": ("big.bib", b"@misc{x, title={A}}\n" + b"%" * 5000, "text/plain")},
    )  # fmt: skip
    binary = post(
        app_client, page, "seeds", {},
        files={"library": ("lib.bib", b"\xff\xfe\x00@", "application/octet-stream")},
    )  # fmt: skip
    neither = post(
        app_client, page, "seeds", {},
        files={"library": ("notes.txt", b"just some notes", "text/plain")},
    )  # fmt: skip

    assert large.startswith("413\n") and "The file is larger than 4 KB: nothing was added." in large
    assert "The file holds NUL bytes: it is not a text export; nothing was added." in binary
    assert "not a BibTeX, RIS or CSL-JSON export" in neither
    assert seeds(db) == []


def test_more_than_the_limit_is_refused_whole(
    db: Database, app_client: TestClient, page: str
) -> None:
    bib = "".join(
        f"@misc{{k{i}, title = {{Paper {i}}}, abstract = {{About {i}.}}}}\n" for i in range(6)
    )

    answer = post(app_client, page, "seeds", {"papers": bib})

    assert "A subscriber can keep at most 5 papers: there are 0 and this adds 6." in answer
    assert seeds(db) == []


def test_what_it_learned_the_learning_switch_and_forgetting(
    db: Database, app_client: TestClient, page: str, reader: Subscriber
) -> None:
    with db.session() as session:
        record_feedback(session, reader.id, "2501.00002", Vote.MORE)
        record_feedback(session, reader.id, "2501.00003", Vote.LESS)
    shown = text_of(app_client.get(page).text)
    assert "Rated “more like this” (1) Robot Hands That Grasp Household Objects" in shown
    assert "Rated “less like this” (1) Quiet Baselines for Tabular Learning" in shown
    assert "What weighs most in your next edition" in shown
    assert "Learning from your ratings: on" in shown

    off = post(app_client, page, "learning", {"learn": "off"})
    assert "Your digest no longer learns from your ratings." in off
    assert subscriber(db, reader.email).learn_from_ratings is False
    assert "Learning from your ratings: off" in text_of(off)
    assert "What weighs most" not in off  # nothing is learned while it is off, no seeds
    on = post(app_client, page, "learning", {"learn": "on"})
    assert "Your ratings shape your digest again." in on
    assert subscriber(db, reader.email).learn_from_ratings is True

    unconfirmed = post(app_client, page, "forget", {})
    assert unconfirmed.startswith("422\n")
    assert "Tick the box to confirm that your ratings are forgotten." in unconfirmed
    forgotten = post(app_client, page, "forget", {"confirm_forget": "yes"})
    assert "Forgot your 2 ratings." in forgotten
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Feedback)) == 0


def test_every_action_needs_the_csrf_field_and_a_valid_link(
    db: Database, app_client: TestClient, page: str, reader: Subscriber
) -> None:
    with db.session() as session:
        record_feedback(session, reader.id, "2501.00002", Vote.MORE)
    for path, data in (
        ("forget", {"confirm_forget": "yes"}),
        ("learning", {"learn": "off"}),
        ("seeds", {"papers": "2406.00001"}),
        ("seeds/remove", {"seed": "all"}),
    ):
        refused = app_client.post(action(page, path), data=data, headers=BROWSER)
        assert refused.status_code == 403, path
        broken = app_client.post(
            action(page, path).replace("token=", "token=x"), data=data, headers=BROWSER
        )
        assert broken.status_code in (400, 403), path
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Feedback)) == 1
    assert subscriber(db, reader.email).learn_from_ratings is True
    assert seeds(db) == []


def test_the_data_export_has_mutes_seeds_and_the_switch_and_delete_removes_the_seeds(
    db: Database, app_client: TestClient, page: str, settings: Settings, reader: Subscriber
) -> None:
    bib = b"@misc{a, title = {Grasping}, abstract = {Robot hands.}, doi = {10.1000/xyz}}\n"
    post(app_client, page, "seeds", {}, files={"library": ("a.bib", bib, "text/plain")})
    post(app_client, page, "learning", {"learn": "off"})
    with db.session() as session:
        session.get_one(Subscriber, reader.id).muted = ["benchmark"]

    data = json.loads(app_client.get(action(page, "export")).text)

    assert data["preferences"]["muted"] == ["benchmark"]
    assert data["learn_from_ratings"] is False
    assert [(s["title"], s["doi"], s["abstract"]) for s in data["seed_papers"]] == [
        ("Grasping", "10.1000/xyz", "Robot hands.")
    ]
    deleted = post(app_client, page, "delete", {"confirm_delete": "yes"})
    assert "Your data is deleted" in deleted
    assert seeds(db) == []


def test_a_reader_removes_only_their_own_seed_papers(
    db: Database, app_client: TestClient, page: str
) -> None:
    other = add(db, "other@example.com", SubscriberState.ACTIVE)
    with db.session() as session:
        session.add(SeedPaper(subscriber_id=other.id, key="title:x", title="Theirs", origin="file"))
    with db.session() as session:
        theirs = session.scalars(select(SeedPaper.id)).one()

    for value in (str(theirs), "x", "-1", "²"):
        answer = post(app_client, page, "seeds/remove", {"seed": value})
        assert answer.startswith("422\n") and "That paper was not in your list." in answer
    assert post(app_client, page, "seeds/remove", {"seed": "all"}).startswith("422\n")
    assert seeds(db) == [("Theirs", "file")]
