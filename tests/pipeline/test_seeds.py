"""Seed papers through the store (SQLite and PostgreSQL) and a stand-in for arXiv's API on
127.0.0.1: ids without text are looked up once and kept, text in a file is used as it is,
DOIs and titles are matched against stored papers, every bad entry is reported and nothing
is half imported; the seeds then count as "more like this" in the edition."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from digest.pipeline.editions import profiles_of
from digest.pipeline.plan import send_due_now
from digest.pipeline.pool import day_pool
from digest.pipeline.seeds import SeedReport, add_seed_papers
from digest.settings import Settings
from digest.sources.library import parse_submission
from digest.store.db import Database
from digest.store.models import ArxivLookup, Delivery, DeliveryPaper, SeedPaper, Subscriber
from tests.conftest import REDIS_URL, SmtpSink
from tests.factories import make_paper, make_subscriber
from tests.sources.arxiv_standin import arxiv_standin, asked_ids

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


@pytest.fixture
def store_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(
        update={
            "database_url": database_url,
            "arxiv_lock_url": REDIS_URL,
            "arxiv_interval_seconds": 0.0,
            "http_retries": 0,
        }
    )


def subscribers(db: Database, *emails: str) -> list[int]:
    with db.session() as session:
        return [make_subscriber(session, email).id for email in emails]


def seed(
    db: Database, settings: Settings, ids: list[int], pasted: str = "", **options: object
) -> SeedReport:
    upload = options.pop("upload", None)
    filename = options.pop("filename", None)
    parsed = parse_submission(pasted, upload, filename)  # type: ignore[arg-type]
    return add_seed_papers(db, settings, ids, parsed, **options)  # type: ignore[arg-type]


def stored_titles(db: Database, subscriber_id: int) -> list[str]:
    with db.session() as session:
        return list(
            session.scalars(
                select(SeedPaper.title)
                .where(SeedPaper.subscriber_id == subscriber_id)
                .order_by(SeedPaper.id)
            )
        )


def test_arxiv_ids_without_text_are_looked_up_once_and_kept(
    db: Database, store_settings: Settings
) -> None:
    first, second = subscribers(db, "a@example.org", "b@example.org")
    with arxiv_standin() as arxiv:
        settings = store_settings.model_copy(update={"arxiv_api_url": arxiv.url})
        pasted = "https://arxiv.org/abs/2406.00001v2\narXiv:2406.00002\n"
        report = seed(db, settings, [first], pasted)
        again = seed(db, settings, [second], "http://export.arxiv.org/pdf/2406.00001v1.pdf")

        assert asked_ids(arxiv) == [["2406.00001", "2406.00002"]]  # the second asked nothing
        user_agent = arxiv.requests[0][1]["user-agent"]
    assert "ops@example.org" in user_agent  # the contact, as every arXiv request carries
    assert (report.stored, report.added, report.problems) == (True, 2, [])
    assert (again.stored, again.added) == (True, 1)
    assert stored_titles(db, first) == [
        "Dexterous Robot Hands Grasp Household Objects",
        "Tactile Manipulation with Soft Grippers",
    ]
    with db.session() as session:
        kept = session.scalars(select(ArxivLookup).order_by(ArxivLookup.arxiv_id)).all()
        assert [(k.arxiv_id, k.doi) for k in kept] == [
            ("2406.00001", "10.1109/icra.2025.0001"),
            ("2406.00002", None),
        ]
        origin = session.scalars(select(SeedPaper.origin).where(SeedPaper.subscriber_id == second))
        assert list(origin) == ["arxiv"]


def test_a_file_with_text_is_used_as_it_is_and_asks_nobody(
    db: Database, store_settings: Settings
) -> None:
    [reader] = subscribers(db, "a@example.org")
    csl = [
        {
            "title": "Grasping in Clutter",
            "abstract": "Robot hands pick objects from cluttered bins.",
            "author": [{"family": "Quinlan", "given": "Ada"}],
            "URL": "http://arxiv.org/abs/2406.00001",
        }
    ]
    with arxiv_standin() as arxiv:
        settings = store_settings.model_copy(update={"arxiv_api_url": arxiv.url})
        report = seed(db, settings, [reader], upload=json.dumps(csl).encode(), filename="my.json")
        assert arxiv.requests == []
    assert (report.stored, report.added) == (True, 1)
    with db.session() as session:
        row = session.scalars(select(SeedPaper)).one()
        assert (row.title, row.abstract, row.authors, row.arxiv_id, row.origin) == (
            "Grasping in Clutter",
            "Robot hands pick objects from cluttered bins.",
            ["Ada Quinlan"],
            "2406.00001",
            "file",
        )


def test_dois_and_titles_match_stored_papers_and_one_bad_entry_keeps_everything_out(
    db: Database, store_settings: Settings
) -> None:
    [reader] = subscribers(db, "a@example.org")
    with db.session() as session:
        paper = make_paper(
            session, listed_on=DAY, title="Attention Is All You Need", abstract="Transformers."
        )
        paper.doi = "10.5555/3295222.3295349"
        make_paper(session, listed_on=DAY, title="Café Chats: Dialogue", abstract="Small talk.")
    pasted = (
        "https://doi.org/10.5555/3295222.3295349\n"
        "cafe chats - dialogue\n"
        "10.1234/unknown.doi\n"
        "A Title Nobody Stored\n"
        "https://example.com/a-paper\n"
    )

    refused = seed(db, store_settings, [reader], pasted)

    assert not refused.stored
    assert refused.refused == "3 of 5 entries cannot be used, so nothing was added"
    assert refused.problems == [
        "line 3: not found: no paper here has DOI 10.1234/unknown.doi, and the entry has no "
        "abstract to use (give its arXiv id, or its title and abstract)",
        "line 4: not found: no paper here has this title, and the entry has no abstract to "
        "use (give its arXiv id, or its title and abstract)",
        "line 5: a link to neither arXiv nor doi.org (give the paper's arXiv or DOI link)",
    ]
    assert stored_titles(db, reader) == []

    skipped = seed(db, store_settings, [reader], pasted, skip_bad=True)

    assert (skipped.stored, skipped.added, len(skipped.problems)) == (True, 2, 3)
    assert stored_titles(db, reader) == ["Attention Is All You Need", "Café Chats: Dialogue"]


def test_a_bad_bibtex_entry_is_named_by_number_and_line(
    db: Database, store_settings: Settings
) -> None:
    [reader] = subscribers(db, "a@example.org")
    bib = (
        "@article{good,\n  title = {Grasping},\n  abstract = {Robot hands.},\n}\n"
        "@article{bad,\n  title = {Never closed,\n  abstract = {x}\n"
        "@article{other,\n  title = {Tactile}, abstract = {Soft grippers.}\n}\n"
    )

    report = seed(db, store_settings, [reader], upload=bib.encode(), filename="refs.bib")

    assert not report.stored
    assert len(report.problems) == 1
    assert report.problems[0].startswith("entry 2 (line 5): cannot be read: ")
    assert stored_titles(db, reader) == []


def test_arxiv_out_of_reach_is_said_per_entry_and_stores_nothing(
    db: Database, store_settings: Settings
) -> None:
    [reader] = subscribers(db, "a@example.org")
    with arxiv_standin(status=503) as arxiv:
        settings = store_settings.model_copy(update={"arxiv_api_url": arxiv.url})
        report = seed(db, settings, [reader], "2406.00001\nGrasping\n", skip_bad=False)

    assert not report.stored
    assert report.problems[0].startswith("line 1: arXiv could not be asked (arXiv: HTTP 503")
    assert report.problems[0].endswith("; try again later")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ArxivLookup)) == 0


def test_an_unknown_arxiv_id_is_not_found(db: Database, store_settings: Settings) -> None:
    [reader] = subscribers(db, "a@example.org")
    with arxiv_standin() as arxiv:
        settings = store_settings.model_copy(update={"arxiv_api_url": arxiv.url})
        report = seed(db, settings, [reader], "2406.09999")

    assert report.problems == ["line 1: arXiv has no paper 2406.09999"]


def test_past_the_limit_nothing_is_added_for_anyone(db: Database, store_settings: Settings) -> None:
    first, second = subscribers(db, "a@example.org", "b@example.org")
    few = store_settings.model_copy(update={"seed_papers_max": 2})
    bib = "".join(
        f"@misc{{k{i},\n title = {{Paper {i}}},\n abstract = {{About {i}.}}\n}}\n" for i in range(2)
    )
    assert seed(db, few, [first], upload=bib.encode(), filename="a.bib").added == 2
    more = "@misc{k9,\n title = {Paper nine},\n abstract = {Nine.}\n}\n"

    report = seed(db, few, [second, first], upload=more.encode(), filename="a.bib")

    assert report.refused == "a subscriber can keep at most 2 papers: there are 2 and this adds 1"
    assert stored_titles(db, second) == []  # the other subscriber's part was rolled back too


def test_seed_papers_count_as_more_like_this(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    with db.session() as session:
        for upvotes, title, abstract in (
            (90, "Scaling laws for language models", "Loss falls as a power law in tokens."),
            (60, "Video diffusion models at scale", "Denoising frames jointly keeps motion."),
            (5, "Robot hands grasp household objects", "Fingers pick objects with care."),
        ):
            make_paper(session, listed_on=DAY, upvotes=upvotes, title=title, abstract=abstract)
        for _ in range(15):  # a pool large enough for "clearly like" to mean something
            make_paper(session, listed_on=DAY, upvotes=1)
        reader = make_subscriber(session, "robots@example.org", edition_size=2)
        make_subscriber(session, "plain@example.org", edition_size=2)
    bib = (
        "@misc{mine,\n title = {Dexterous robot hands},\n"
        " abstract = {Robot hands pick household objects with fingers.}\n}\n"
    )
    assert seed(db, store_settings, [reader.id], upload=bib.encode(), filename="m.bib").stored
    pool = day_pool(db, store_settings.ranking, DAY, NOW)
    assert pool is not None
    with db.session() as session:
        [profile] = profiles_of(session, [session.get_one(Subscriber, reader.id)], pool)
    assert [text.title for text in profile.liked] == ["Dexterous robot hands"]

    assert send_due_now(db, store_settings, NOW, edition=DAY).sent == 2
    with db.session() as session:
        rows = session.execute(
            select(Delivery.subscriber_id, DeliveryPaper.why)
            .join(DeliveryPaper)
            .order_by(Delivery.subscriber_id, DeliveryPaper.rank)
        ).all()
    mine = [why for subscriber_id, why in rows if subscriber_id == reader.id]
    assert mine[0].startswith('like "Dexterous robot hands"')
    texts = {str(m["To"]): str(m.get_body(("plain",)).get_content()) for m in smtp_sink.received}  # type: ignore[union-attr]
    assert "Robot hands grasp" in texts["robots@example.org"]
    assert "Robot hands grasp" not in texts["plain@example.org"]
