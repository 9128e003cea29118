"""store_fetched on SQLite and PostgreSQL: upsert by arXiv id, snapshots, concurrent fetches."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from digest.papers import FetchedPaper
from digest.store.db import Database
from digest.store.models import Paper, SignalSnapshot
from digest.store.papers import StoreCounts, store_fetched

OBSERVED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def fetched(arxiv_id: str = "2611.00001", **fields: Any) -> FetchedPaper:
    values: dict[str, Any] = {
        "title": f"Paper {arxiv_id}",
        "listed_on": date(2026, 11, 20),
        "upvotes": 0,
    }
    values.update(fields)
    return FetchedPaper(arxiv_id=arxiv_id, **values)


def stored(db: Database, arxiv_id: str = "2611.00001") -> Paper:
    with db.session() as session:
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == arxiv_id)).one()
        paper.signals  # noqa: B018 - load the snapshots before the session closes
        return paper


def row_counts(db: Database) -> tuple[int, int]:
    with db.session() as session:
        papers = session.scalar(select(func.count()).select_from(Paper)) or 0
        snapshots = session.scalar(select(func.count()).select_from(SignalSnapshot)) or 0
    return papers, snapshots


def test_first_store_inserts_everything_a_digest_needs(db: Database) -> None:
    paper = fetched(
        abstract="An abstract.",
        authors=["A. Author", "B. Author"],
        keywords=["routing"],
        summary="Short.",
        code_url="https://github.com/example-org/code",
        published_at=datetime(2026, 11, 18, tzinfo=UTC),
        upvotes=12,
        comments=3,
        stars=40,
    )
    with db.session() as session:
        counts = store_fetched(session, [paper, fetched("2611.00002")], OBSERVED, "hf")

    assert counts == StoreCounts(new=2, updated=0, snapshots=2)
    row = stored(db)
    assert row.url == "https://arxiv.org/abs/2611.00001"
    assert row.authors == ["A. Author", "B. Author"] and row.keywords == ["routing"]
    assert row.code_url == "https://github.com/example-org/code"
    assert row.published_at == datetime(2026, 11, 18, tzinfo=UTC)
    assert row.listed_on == date(2026, 11, 20)
    assert (row.source, row.first_seen_at) == ("hf", OBSERVED)
    ((snapshot,),) = [row.signals]
    assert (snapshot.upvotes, snapshot.comments, snapshot.stars) == (12, 3, 40)
    assert snapshot.observed_at == OBSERVED


def test_sparse_refetch_keeps_known_values_and_adds_a_snapshot(db: Database) -> None:
    rich = fetched(
        abstract="Full abstract.",
        summary="Short.",
        keywords=["k"],
        code_url="https://github.com/example-org/code",
        upvotes=5,
        stars=7,
    )
    sparse = fetched(title="Renamed  Later", upvotes=9)
    with db.session() as session:
        store_fetched(session, [rich], OBSERVED, "hf")
    with db.session() as session:
        counts = store_fetched(session, [sparse], LATER, "file")

    assert counts == StoreCounts(new=0, updated=1, snapshots=1)
    row = stored(db)
    assert row.title == "Renamed Later"  # whitespace collapsed
    assert (row.abstract, row.summary, row.keywords) == ("Full abstract.", "Short.", ["k"])
    assert row.code_url == "https://github.com/example-org/code"
    history = [(s.upvotes, s.stars, s.source) for s in row.signals]
    assert history == [(5, 7, "hf"), (9, None, "file")]
    assert row_counts(db) == (1, 2)


def test_repeated_ids_in_one_payload_become_one_paper_and_one_snapshot(db: Database) -> None:
    payload = [
        fetched("2611.00001v1", abstract="From v1.", upvotes=3),
        fetched("2611.00002"),
        fetched("2611.00001v2", title="Version Two", upvotes=8),
        fetched("2611.00001", upvotes=10),
    ]
    with db.session() as session:
        counts = store_fetched(session, payload, OBSERVED, "hf")

    assert counts == StoreCounts(new=2, updated=0, snapshots=2, repeated=2)
    row = stored(db)
    # v2 had the highest version, so its title; v1's abstract fills what v2 did not say.
    assert (row.title, row.abstract, row.version) == ("Version Two", "From v1.", 2)
    assert [s.upvotes for s in row.signals] == [10]


def test_an_empty_fetch_writes_nothing(db: Database) -> None:
    with db.session() as session:
        assert store_fetched(session, [], OBSERVED, "hf") == StoreCounts(0, 0, 0)
    assert row_counts(db) == (0, 0)


def test_two_fetches_at_once_store_each_paper_once(db: Database) -> None:
    """The second writer waits on the first's uncommitted insert, then updates instead."""
    papers = [fetched("2611.00001", upvotes=1), fetched("2611.00002", upvotes=1)]
    outcome: list[StoreCounts] = []
    failures: list[BaseException] = []

    def second_fetch() -> None:
        try:
            with db.session() as session:
                outcome.append(store_fetched(session, papers, LATER, "hf"))
        except BaseException as exc:  # reported below, in the test's own thread
            failures.append(exc)

    with db.session() as session:
        first = store_fetched(session, papers, OBSERVED, "hf")
        other = threading.Thread(target=second_fetch)
        other.start()
        other.join(timeout=0.5)  # it must be blocked on our open transaction
        assert other.is_alive()
    other.join(timeout=30)

    assert not failures, failures
    assert first == StoreCounts(new=2, updated=0, snapshots=2)
    assert outcome == [StoreCounts(new=0, updated=2, snapshots=2)]
    assert row_counts(db) == (2, 4)


def test_versions_merge_in_any_order_and_the_highest_gives_the_text(db: Database) -> None:
    v3 = fetched("2611.00001v3", title="Third Title", abstract="Third.", authors=["C"])
    v1 = fetched("2611.00001v1", title="First Title", abstract="First.", authors=["A"])
    with db.session() as session:
        store_fetched(session, [v3], OBSERVED, "arxiv")
    with db.session() as session:
        store_fetched(session, [v1], LATER, "arxiv")

    row = stored(db)
    assert (row.title, row.abstract, row.authors, row.version) == (
        "Third Title",
        "Third.",
        ["C"],
        3,
    )
    assert row_counts(db) == (1, 2)


def test_a_source_without_versions_fills_gaps_but_never_rewrites_versioned_text(
    db: Database,
) -> None:
    from_arxiv = fetched("2611.00001v2", title="Versioned Title", upvotes=None)
    from_hf = fetched(
        title="Older Title From HF",
        abstract="HF had the abstract.",
        summary="An AI summary.",
        upvotes=40,
    )
    with db.session() as session:
        store_fetched(session, [from_arxiv], OBSERVED, "arxiv")
    with db.session() as session:
        store_fetched(session, [from_hf], LATER, "hf")

    row = stored(db)
    assert row.title == "Versioned Title"
    assert (row.abstract, row.summary) == ("HF had the abstract.", "An AI summary.")
    assert [s.upvotes for s in row.signals] == [40]  # arXiv brought no signals


def test_published_keeps_the_earliest_moment_and_announced_the_first_day(db: Database) -> None:
    announced = fetched(
        published_at=datetime(2026, 11, 23, 5, tzinfo=UTC), announced_on=date(2026, 11, 23)
    )
    submitted = fetched(
        published_at=datetime(2026, 11, 18, 17, tzinfo=UTC), announced_on=date(2026, 11, 30)
    )
    with db.session() as session:
        store_fetched(session, [announced], OBSERVED, "arxiv")
    with db.session() as session:
        store_fetched(session, [submitted], LATER, "arxiv")

    row = stored(db)
    assert row.published_at == datetime(2026, 11, 18, 17, tzinfo=UTC)
    assert row.announced_on == date(2026, 11, 23)


def test_latex_and_whitespace_in_titles_are_made_readable(db: Database) -> None:
    raw = fetched(title="  $\\alpha$-Entmax for\n \\emph{Long} Documents --- Revisited ")
    with db.session() as session:
        store_fetched(session, [raw], OBSERVED, "arxiv")

    assert stored(db).title == "\u03b1-Entmax for Long Documents \u2014 Revisited"


def built_around_its_checks(valid_id: str, **values: Any) -> FetchedPaper:
    """A paper whose values were changed after FetchedPaper checked them."""
    paper = fetched(valid_id)
    for name, value in values.items():
        object.__setattr__(paper, name, value)
    return paper


def test_a_paper_no_database_can_store_is_skipped_alone(db: Database) -> None:
    bad = [
        built_around_its_checks("2611.00011", upvotes=2**63),
        built_around_its_checks("2611.00012", stars=2**31),
        built_around_its_checks("2611.00013", title="NUL\x00 in the title"),
        built_around_its_checks("2611.00014", authors=["Lone \ud800 surrogate"]),
        built_around_its_checks("2611.00015", code_url="https://example.org/" + "a" * 600),
        built_around_its_checks("2611.00016", version=2**40),
        built_around_its_checks("2611.00017", published_at=datetime(9999, 1, 1, tzinfo=UTC)),
        built_around_its_checks("2611.00018", arxiv_id="a" * 40 + "/1234567"),
    ]
    good = [fetched("2611.00001", upvotes=2**31 - 1), fetched("2611.00002")]

    with db.session() as session:
        counts = store_fetched(session, [good[0], *bad, good[1]], OBSERVED, "hf")

    assert (counts.new, counts.snapshots) == (2, 2)
    assert [identifier for identifier, _ in counts.skipped] == [p.arxiv_id[:40] for p in bad]
    assert all(reason.startswith("not stored: ") for _, reason in counts.skipped)
    assert row_counts(db) == (2, 2)
    assert stored(db, "2611.00001").signals[0].upvotes == 2**31 - 1
